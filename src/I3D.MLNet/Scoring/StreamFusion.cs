namespace I3D.MLNet.Scoring;

/// <summary>
/// The one fusion of stream scores, used by every scorer: the streams' logits (each averaged over a row's clips) are
/// summed, as kinetics-i3d's evaluate_sample does (section 2.4: the streams are trained separately and their predictions
/// averaged at test time; summing logits before the softmax is how the reference implementation combines them).
/// </summary>
public static class StreamFusion
{
    /// <summary>The sum of the streams' logits (one array per stream, the same class count each).</summary>
    public static float[] Sum(IReadOnlyList<float[]> streams)
    {
        if (streams.Count == 0) throw new ArgumentException("no stream to fuse");
        var joint = new float[streams[0].Length];
        foreach (var logits in streams)
        {
            if (logits.Length != joint.Length) throw new ArgumentException($"streams of {joint.Length} and {logits.Length} classes cannot be fused");
            for (int c = 0; c < joint.Length; c++) joint[c] += logits[c];
        }
        return joint;
    }

    /// <summary>The output column of a stream's logits (clip-averaged, before fusion): <c>RgbLogits</c>, <c>FlowLogits</c> or <c>RgbAndFlowLogits</c>.</summary>
    public static string LogitsColumnName(VideoStream stream) => $"{stream}Logits";
}
