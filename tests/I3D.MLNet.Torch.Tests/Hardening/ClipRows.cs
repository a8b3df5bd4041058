using Microsoft.ML.Data;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>In-memory rows of one 8 x 32 x 32 RGB clip each (class 1 dark, class 2 bright, noise of +-0.5), for the
/// hardening tests' models and PredictionEngines.</summary>
public static class ClipRows
{
    public const int Frames = 8, Size = 32;

    public sealed class Row
    {
        public float[] Clip { get; set; } = [];

        [KeyType(2)]
        public uint Label { get; set; }
    }

    public sealed class Scored
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>The rows' schema: the clip column as SampleClips writes it (1 x 3 x T x H x W).</summary>
    public static SchemaDefinition Schema()
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Clip)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 3, Frames, Size, Size);
        return schema;
    }

    public static List<Row> Make(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(i => new Row
        {
            Label = (uint)(i % 2) + 1,
            Clip = [.. Enumerable.Range(0, 3 * Frames * Size * Size).Select(_ => (float)Math.Clamp((i % 2 == 0 ? -0.4 : 0.4) + random.NextDouble() - 0.5, -1, 1))],
        })];
    }
}
