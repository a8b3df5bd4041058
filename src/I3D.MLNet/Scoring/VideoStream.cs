using System.Text.Json.Serialization;

namespace I3D.MLNet.Scoring;

/// <summary>
/// The two input streams of the paper (section 2.5: RGB and TV-L1 optical flow, trained separately, scores fused). Model
/// zips, ONNX metadata and checkpoints write a stream by its name (<see cref="VideoStreams.Name"/>: <c>rgb</c>,
/// <c>flow</c>), so the enum's order is free to change.
/// </summary>
public enum VideoStream
{
    /// <summary>RGB frames, 3 channels in [-1, 1].</summary>
    [JsonStringEnumMemberName(VideoStreams.RgbName)] Rgb,

    /// <summary>Optical flow, 2 channels (x, y) truncated to [-20, 20] pixels and scaled to [-1, 1].</summary>
    [JsonStringEnumMemberName(VideoStreams.FlowName)] Flow,
}

/// <summary>The one rule for a stream's name and channel count.</summary>
public static class VideoStreams
{
    internal const string RgbName = "rgb", FlowName = "flow";

    /// <summary>Both streams in fusion order (RGB first).</summary>
    public static IReadOnlyList<VideoStream> All { get; } = [VideoStream.Rgb, VideoStream.Flow];

    /// <summary>The name stored in model zips and ONNX metadata: <c>rgb</c> or <c>flow</c>.</summary>
    public static string Name(this VideoStream stream) => stream switch
    {
        VideoStream.Rgb => RgbName,
        VideoStream.Flow => FlowName,
        _ => throw new ArgumentOutOfRangeException(nameof(stream), stream, "neither rgb nor flow"),
    };

    /// <summary>The stream in a sentence: <c>RGB</c> or <c>flow</c>.</summary>
    public static string Label(this VideoStream stream) => stream == VideoStream.Rgb ? "RGB" : "flow";

    /// <summary>Channels per frame: 3 for RGB, 2 for flow.</summary>
    public static int Channels(this VideoStream stream) => stream == VideoStream.Rgb ? 3 : 2;

    /// <summary>The stream named <paramref name="name"/> (<c>rgb</c> or <c>flow</c>, any case).</summary>
    /// <param name="name">The stored name.</param>
    /// <param name="where">What holds the name, for the message (a zip, an ONNX file, an option).</param>
    public static VideoStream Parse(string? name, string where) => name?.ToLowerInvariant() switch
    {
        RgbName => VideoStream.Rgb,
        FlowName => VideoStream.Flow,
        _ => throw new InvalidDataException($"{where}: unknown stream '{name}' (rgb or flow)"),
    };

    /// <summary>The stream of a network with <paramref name="channels"/> input channels: RGB for 3, flow for 2.</summary>
    public static VideoStream OfChannels(long channels) => channels switch
    {
        3 => VideoStream.Rgb,
        2 => VideoStream.Flow,
        _ => throw new ArgumentException($"a {channels}-channel network is neither an RGB (3) nor an optical flow (2) stream"),
    };
}
