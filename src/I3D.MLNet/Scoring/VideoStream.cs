using System.Text.Json.Serialization;

namespace I3D.MLNet.Scoring;

/// <summary>
/// The input streams of the paper (section 2.5: RGB and TV-L1 optical flow, trained separately, scores fused), and the
/// joint input of the 3D-Fused network (section 2.3: RGB and flow in one network, channels concatenated). Model zips,
/// ONNX metadata and checkpoints write a stream by its name (<see cref="VideoStreams.Name"/>: <c>rgb</c>, <c>flow</c>,
/// <c>rgb+flow</c>), so the enum's order is free to change.
/// </summary>
public enum VideoStream
{
    /// <summary>RGB frames, 3 channels in [-1, 1].</summary>
    [JsonStringEnumMemberName(VideoStreams.RgbName)] Rgb,

    /// <summary>Optical flow, 2 channels (x, y) truncated to [-20, 20] pixels and scaled to [-1, 1].</summary>
    [JsonStringEnumMemberName(VideoStreams.FlowName)] Flow,

    /// <summary>RGB and flow clips of the same frames and crop, channels concatenated (3 + 2): one network sees both.</summary>
    [JsonStringEnumMemberName(VideoStreams.RgbAndFlowName)] RgbAndFlow,
}

/// <summary>The one rule for a stream's name, channel count and the clip columns it reads.</summary>
public static class VideoStreams
{
    internal const string RgbName = "rgb", FlowName = "flow", RgbAndFlowName = "rgb+flow";

    /// <summary>The two streams of a video in fusion order (RGB first).</summary>
    public static IReadOnlyList<VideoStream> All { get; } = [VideoStream.Rgb, VideoStream.Flow];

    /// <summary>The name stored in model zips and ONNX metadata: <c>rgb</c>, <c>flow</c> or <c>rgb+flow</c>.</summary>
    public static string Name(this VideoStream stream) => stream switch
    {
        VideoStream.Rgb => RgbName,
        VideoStream.Flow => FlowName,
        VideoStream.RgbAndFlow => RgbAndFlowName,
        _ => throw new ArgumentOutOfRangeException(nameof(stream), stream, "neither rgb, flow nor rgb+flow"),
    };

    /// <summary>The stream in a sentence: <c>RGB</c>, <c>flow</c> or <c>RGB + flow</c>.</summary>
    public static string Label(this VideoStream stream) => stream switch
    {
        VideoStream.Rgb => "RGB",
        VideoStream.Flow => "flow",
        _ => "RGB + flow",
    };

    /// <summary>Channels per frame: 3 for RGB, 2 for flow, 5 for both.</summary>
    public static int Channels(this VideoStream stream) => stream switch
    {
        VideoStream.Rgb => 3,
        VideoStream.Flow => 2,
        _ => 5,
    };

    /// <summary>The video streams a network of this input reads, in channel order: itself, or RGB then flow.</summary>
    public static IReadOnlyList<VideoStream> Parts(this VideoStream stream) => stream == VideoStream.RgbAndFlow ? All : [stream];

    /// <summary>The stream named <paramref name="name"/> (<c>rgb</c>, <c>flow</c> or <c>rgb+flow</c>, any case).</summary>
    /// <param name="name">The stored name.</param>
    /// <param name="where">What holds the name, for the message (a zip, an ONNX file, an option).</param>
    public static VideoStream Parse(string? name, string where) => name?.ToLowerInvariant() switch
    {
        RgbName => VideoStream.Rgb,
        FlowName => VideoStream.Flow,
        RgbAndFlowName => VideoStream.RgbAndFlow,
        _ => throw new InvalidDataException($"{where}: unknown stream '{name}' (rgb, flow or rgb+flow)"),
    };

    /// <summary>The stream of a network with <paramref name="channels"/> input channels: RGB for 3, flow for 2, both for 5.</summary>
    public static VideoStream OfChannels(long channels) => channels switch
    {
        3 => VideoStream.Rgb,
        2 => VideoStream.Flow,
        5 => VideoStream.RgbAndFlow,
        _ => throw new ArgumentException($"a {channels}-channel network is neither an RGB (3), an optical flow (2) nor an RGB + flow (5) stream"),
    };
}
