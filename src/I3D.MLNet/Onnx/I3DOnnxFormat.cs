using I3D.MLNet.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;

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
    /// <summary>ONNX opset of the exported graphs.</summary>
    public const int Opset = 17;

    /// <summary>The input's name: clips [batch, C, time, H, W].</summary>
    public const string InputName = "clip";

    /// <summary>The output's name: logits [batch, classes].</summary>
    public const string OutputName = "logits";

    /// <summary>The symbolic batch dimension's name.</summary>
    public const string BatchDimension = "batch";

    /// <summary>The symbolic time dimension's name.</summary>
    public const string TimeDimension = "time";

    /// <summary>Metadata key of the class names (newline-joined, class order).</summary>
    public const string ClassesKey = "classes";

    /// <summary>Metadata key of the stream (rgb or flow).</summary>
    public const string StreamKey = "stream";

    /// <summary>Metadata key of the input layout (<see cref="Layout"/>).</summary>
    public const string LayoutKey = "layout";

    /// <summary>Metadata key of the input value range (<see cref="InputRange"/>).</summary>
    public const string InputRangeKey = "input_range";

    /// <summary>Metadata key of the network's architecture name.</summary>
    public const string BackboneKey = "backbone";

    /// <summary>The input layout: batch, channels, time, height, width.</summary>
    public const string Layout = "NCTHW";

    /// <summary>The input value range (section 2.5: RGB and flow scaled to [-1, 1]).</summary>
    public const string InputRange = "[-1, 1]";

    /// <summary>The metadata value of <see cref="ClassesKey"/> for class names in class order.</summary>
    public static string JoinClasses(IEnumerable<string> classes) => string.Join('\n', classes);

    /// <summary>The class names in a <see cref="ClassesKey"/> metadata value.</summary>
    public static string[] SplitClasses(string joined) => joined.Split('\n');

    /// <summary>
    /// The shape dictionary ML.NET's own <c>ApplyOnnxModel</c> needs to run an exported model on a SampleClips column: the
    /// exports' batch and time are symbolic, which ApplyOnnxModel cannot size, so they are fixed at the column's
    /// N x C x T x H x W. The column must also carry the model's input name: copy it to <see cref="InputName"/> first.
    /// </summary>
    /// <param name="clipColumn">The clip column (fixed-size, from SampleClips; not WholeVideo).</param>
    /// <example>
    /// <code>
    /// var shapes = I3DOnnxFormat.ShapeDictionary(clips.Schema["RgbClip"]);
    /// var logits = ml.Transforms.CopyColumns(I3DOnnxFormat.InputName, "RgbClip")
    ///     .Append(ml.Transforms.ApplyOnnxModel([I3DOnnxFormat.OutputName], [I3DOnnxFormat.InputName], "rgb.onnx", shapes, null, false, 100));
    /// // "logits": one row of class scores per video (the N clips averaged); I3DOnnxFormat.Softmax for probabilities
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">The column is not a fixed-size N x C x T x H x W float vector; the message names it.</exception>
    public static IDictionary<string, int[]> ShapeDictionary(DataViewSchema.Column clipColumn)
    {
        int channels = clipColumn.Type is VectorDataViewType { Dimensions.Length: 5 } v ? v.Dimensions[1] : 3;
        long[] shape = ClipColumns.Shape(clipColumn, channels, "ApplyOnnxModel's");
        return new Dictionary<string, int[]> { [InputName] = [.. shape.Select(d => (int)d)] };
    }

    /// <summary>Class probabilities of a row of logits (the softmax <c>ScoreI3D</c>'s Score column holds), for ApplyOnnxModel's output.</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits) => ClassScores.Softmax(logits);
}
