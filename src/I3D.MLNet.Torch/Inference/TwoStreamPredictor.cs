using I3D.MLNet.IO;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inference;

/// <summary>The clips of one input: an RGB clip (1, T, H, W, 3) and/or a flow clip (1, T, H, W, 2), kinetics-i3d layout.</summary>
internal sealed record ClipInput(NpyArray? Rgb, NpyArray? Flow);

/// <summary>Provides the clips for an input path (a .npy clip today; decoded video once the clip sampler is wired).</summary>
internal interface IClipSource
{
    /// <param name="path">The video or .npy file.</param>
    /// <param name="wantRgb">An RGB network is loaded.</param>
    /// <param name="wantFlow">A flow network is loaded.</param>
    ClipInput Load(string path, bool wantRgb, bool wantFlow);
}

/// <summary>One input's result: time-averaged logits per stream, their sum, and the softmax of the sum.</summary>
internal sealed record Prediction(string Input, float[] Logits, IReadOnlyDictionary<VideoStream, float[]> Streams, float[] Probabilities)
{
    /// <summary>Indices of the <paramref name="k"/> most probable classes, most probable first.</summary>
    public int[] Top(int k) => [.. Enumerable.Range(0, Probabilities.Length).OrderByDescending(i => Probabilities[i]).Take(k)];
}

/// <summary>
/// The two-stream I3D (section 2.4 of the paper, "Two 3D Streams": the streams are trained separately and their
/// predictions combined at test time). Combined as kinetics-i3d's evaluate_sample.py does: each stream gives logits
/// averaged over time; the joint prediction is the softmax of the <em>sum</em> of the RGB and flow logits.
/// </summary>
internal sealed class TwoStreamPredictor : IDisposable
{
    private readonly InceptionI3d? rgb, flow;
    private readonly string? rgbSource, flowSource;

    public TwoStreamPredictor(InceptionI3d? rgb, InceptionI3d? flow, Device device, string? rgbSource = null, string? flowSource = null, ScoringPrecision precision = ScoringPrecision.Float32)
    {
        if (rgb is null && flow is null) throw new ArgumentException("give RGB weights, flow weights or both");
        if (rgb is not null && flow is not null && rgb.NumClasses != flow.NumClasses)
            throw new ArgumentException($"the RGB network has {rgb.NumClasses} classes, the flow network {flow.NumClasses}: they cannot be combined");
        Device = device;
        this.rgb = rgb;
        this.flow = flow;
        this.rgbSource = rgbSource ?? "the RGB network";
        this.flowSource = flowSource ?? "the flow network";
        Precision = precision;
        // The predictor owns its networks and saves nothing: they are converted in place.
        foreach (var net in new[] { rgb, flow }) net?.to(ReducedPrecision.DType(precision)).to(device).eval();
    }

    /// <summary>The arithmetic the networks score with.</summary>
    public ScoringPrecision Precision { get; }

    /// <summary>Loads weight files (zip or legacy state_dicts), checking that each has the stream's channel count.</summary>
    public static TwoStreamPredictor Load(string? rgbWeights, string? flowWeights, Device device, ScoringPrecision precision = ScoringPrecision.Float32)
    {
        InceptionI3d? rgb = null, flow = null;
        try
        {
            if (rgbWeights is not null) rgb = LoadStream(rgbWeights, VideoStream.Rgb);
            if (flowWeights is not null) flow = LoadStream(flowWeights, VideoStream.Flow);
            return new TwoStreamPredictor(rgb, flow, device, rgbWeights, flowWeights, precision);
        }
        catch
        {
            rgb?.Dispose();
            flow?.Dispose();
            throw;
        }
    }

    internal static InceptionI3d LoadStream(string path, VideoStream stream)
    {
        var net = ModuleWeights.LoadInceptionI3d(path);
        if (net.InChannels == stream.Channels()) return net;
        net.Dispose();
        throw new WeightFileException($"{path}: given as {stream.Label()} weights but holds an {InceptionI3d.StreamName(net.InChannels)} network ({net.InChannels} input channels, {stream.Label()} needs {stream.Channels()})");
    }

    public Device Device { get; }
    public bool HasRgb => rgb is not null;
    public bool HasFlow => flow is not null;
    public int NumClasses => (rgb ?? flow)!.NumClasses;

    /// <summary>Runs the streams for which <paramref name="clips"/> has a clip; each clip needs its stream's weights.</summary>
    public Prediction Predict(string input, ClipInput clips)
        => Predict(input, clips,
            rgb is null ? null : (rgbSource!, "an RGB network", c => Run(rgb, c, input)),
            flow is null ? null : (flowSource!, "an optical flow network", c => Run(flow, c, input)));

    /// <summary>
    /// The two-stream prediction of one input with any stream runner (TorchSharp, ONNX Runtime): each clip goes to its
    /// stream (a clip without a stream is an error naming what was given), the joint logits are the sum.
    /// </summary>
    internal static Prediction Predict(string input, ClipInput clips,
        (string Source, string Kind, Func<NpyArray, float[]> Run)? rgb, (string Source, string Kind, Func<NpyArray, float[]> Run)? flow)
    {
        if (clips.Rgb is null && clips.Flow is null) throw new ArgumentException($"{input}: no clip");
        var streams = new Dictionary<VideoStream, float[]>();
        foreach (var (name, clip, runner) in new[] { (VideoStream.Rgb, clips.Rgb, rgb), (VideoStream.Flow, clips.Flow, flow) })
        {
            if (clip is null) continue;
            int channels = clip.Shape[^1];
            if (runner is null)
            {
                var (source, kind, _) = (rgb ?? flow)!.Value;
                throw new ArgumentException($"{input}: a {channels}-channel ({InceptionI3d.StreamName(channels)}) clip, but the only model given is {source} ({kind}, {(rgb is null ? 2 : 3)} channels)");
            }
            streams[name] = runner.Value.Run(clip);
        }
        var joint = StreamFusion.Sum([.. streams.Values]);
        return new Prediction(input, joint, streams, Softmax(joint));
    }

    private float[] Run(InceptionI3d net, NpyArray clip, string input)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(clip, input).to(ReducedPrecision.DType(Precision)).to(Device);
        try
        {
            // Several clips of one video: their logits are averaged (the paper's test protocol averages predictions).
            return net.forward(x).mean([0]).cpu().to(ScalarType.Float32).data<float>().ToArray();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{input}: {e.Message}", e);
        }
    }

    public static float[] Softmax(ReadOnlySpan<float> logits) => ClassScores.Softmax(logits);

    public void Dispose()
    {
        rgb?.Dispose();
        flow?.Dispose();
    }
}

/// <summary>
/// .npy clips in kinetics-i3d's layout: 3 channels go to the RGB stream, 2 to the flow stream. kinetics-i3d's sample
/// naming is understood: for <c>X_rgb.npy</c> with flow weights loaded, <c>X_flow.npy</c> next to it is the flow clip
/// (and the other way round), so one INPUT runs both streams.
/// </summary>
internal sealed class NpyClipSource : IClipSource
{
    public static bool Accepts(string path) => path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    public ClipInput Load(string path, bool wantRgb, bool wantFlow)
    {
        var clip = Npy.Read(path);
        int channels = clip.Shape.Length is 4 or 5 ? clip.Shape[^1] : -1;
        if (channels is not (2 or 3))
            throw new ArgumentException($"{path}: expected a (1, T, H, W, 3) RGB or (1, T, H, W, 2) flow clip, got ({string.Join(", ", clip.Shape)})");
        NpyArray? rgb = channels == 3 ? clip : null, flow = channels == 2 ? clip : null;
        if (rgb is not null && wantFlow && Sibling(path, "_rgb", "_flow") is { } f) flow = Npy.Read(f);
        if (flow is not null && wantRgb && Sibling(path, "_flow", "_rgb") is { } r) rgb = Npy.Read(r);
        return new ClipInput(rgb, flow);
    }

    private static string? Sibling(string path, string from, string to)
    {
        string stem = path[..^4];
        if (!stem.EndsWith(from, StringComparison.Ordinal)) return null;
        string other = stem[..^from.Length] + to + path[^4..];
        return File.Exists(other) ? other : null;
    }
}
