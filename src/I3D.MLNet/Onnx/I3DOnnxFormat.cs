namespace I3D.MLNet.Onnx;

/// <summary>
/// The contract between our ONNX exporter (<c>OnnxExporter</c> in I3D.MLNet.Torch) and the ONNX scorer
/// (<c>ScoreI3D</c>): one input <c>clip</c> float32 [batch, C, time, H, W] (batch and time symbolic, C = 3 for RGB or
/// 2 for optical flow, H and W fixed at export), values in [-1, 1]; one output <c>logits</c> float32 [batch, classes]
/// (averaged over time); metadata_props <c>classes</c> (newline-joined class names in class order), <c>stream</c>
/// (rgb or flow) and <c>layout</c> (NCTHW).
/// </summary>
public static class I3DOnnxFormat
{
    public const int Opset = 17;
    public const string InputName = "clip";
    public const string OutputName = "logits";
    public const string BatchDimension = "batch";
    public const string TimeDimension = "time";

    public const string ClassesKey = "classes";
    public const string StreamKey = "stream";
    public const string LayoutKey = "layout";
    public const string InputRangeKey = "input_range";
    public const string BackboneKey = "backbone";
    public const string Layout = "NCTHW";
    public const string InputRange = "[-1, 1]";

    public const string RgbStream = "rgb";
    public const string FlowStream = "flow";

    /// <summary>Channels per frame of a stream: 3 for rgb, 2 for flow.</summary>
    public static int Channels(string stream) => stream switch
    {
        RgbStream => 3,
        FlowStream => 2,
        _ => throw new ArgumentException($"unknown stream '{stream}' (rgb or flow)"),
    };

    /// <summary>The stream of a channel count: rgb for 3, flow for 2.</summary>
    public static string StreamOf(long channels) => channels switch
    {
        3 => RgbStream,
        2 => FlowStream,
        _ => throw new ArgumentException($"a {channels}-channel network is neither an RGB (3) nor an optical flow (2) stream"),
    };

    public static string JoinClasses(IEnumerable<string> classes) => string.Join('\n', classes);

    public static string[] SplitClasses(string joined) => joined.Split('\n');
}
