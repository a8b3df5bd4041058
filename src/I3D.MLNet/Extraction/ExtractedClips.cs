using System.Text.Json.Serialization;
using I3D.MLNet.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Parquet.Serialization;

namespace I3D.MLNet.Extraction;

/// <summary>One clip of one video as <c>i3d extract</c> writes it: a row of the Parquet files in <c>OUT/clips</c>.</summary>
public sealed class ExtractedClip
{
    /// <summary>The video's id: its path relative to the dataset's root (what the shard is decided by).</summary>
    [JsonPropertyName("video")]
    public string Video { get; set; } = "";

    /// <summary>0-based index of the clip in its video.</summary>
    [JsonPropertyName("clip")]
    public int Clip { get; set; }

    /// <summary>The clip's first frame (0-based, at the decoding frame rate).</summary>
    [JsonPropertyName("start_frame")]
    public int StartFrame { get; set; }

    /// <summary>The class name when the dataset says it; null otherwise.</summary>
    [JsonPropertyName("label")]
    public string? Label { get; set; }

    /// <summary>The video's key in the flow cache (<see cref="Flow.FlowCache.Key"/>) when flow was extracted; null otherwise.</summary>
    [JsonPropertyName("flow_key")]
    public string? FlowKey { get; set; }

    /// <summary>The RGB stream's pooled features (1024 for I3D) when features were extracted; null otherwise.</summary>
    [JsonPropertyName("features")]
    public float[]? Features { get; set; }

    /// <summary>The model's logits for the clip (the streams' sum) when predictions were extracted; null otherwise.</summary>
    [JsonPropertyName("logits")]
    public float[]? Logits { get; set; }

    /// <summary>The predicted class name (the largest logit) when predictions were extracted; null otherwise.</summary>
    [JsonPropertyName("predicted_label")]
    public string? PredictedLabel { get; set; }
}

/// <summary>A video that <c>i3d extract</c> could not process: a row of the Parquet files in <c>OUT/errors</c>.</summary>
public sealed class ExtractionError
{
    /// <summary>The video's id (as in <see cref="ExtractedClip.Video"/>).</summary>
    [JsonPropertyName("video")]
    public string Video { get; set; } = "";

    /// <summary>The class name when the dataset says it; null otherwise.</summary>
    [JsonPropertyName("label")]
    public string? Label { get; set; }

    /// <summary>Why: the decoder's (or the network's) one-line message.</summary>
    [JsonPropertyName("error")]
    public string Error { get; set; } = "";
}

/// <summary>
/// The output folder of <c>i3d extract</c>: <c>clips/*.parquet</c> (<see cref="ExtractedClip"/> rows) and
/// <c>errors/*.parquet</c> (<see cref="ExtractionError"/> rows), each file written whole under a temporary name and
/// renamed (so a reader never sees half a file), and read back here as an ML.NET <see cref="IDataView"/>.
/// </summary>
public static class ExtractedClips
{
    /// <summary>The sub-folder of the clip rows.</summary>
    public const string ClipsFolder = "clips";

    /// <summary>The sub-folder of the error rows.</summary>
    public const string ErrorsFolder = "errors";

    /// <summary>The Parquet files of <paramref name="kind"/> (<see cref="ClipsFolder"/> or <see cref="ErrorsFolder"/>) in
    /// <paramref name="folder"/>, in ordinal name order (temporary files, which end in <c>.tmp</c>, are not among them).</summary>
    public static IReadOnlyList<string> Files(string folder, string kind)
    {
        string directory = Path.Combine(folder, kind);
        return Directory.Exists(directory) ? [.. Directory.GetFiles(directory, "*.parquet").Order(StringComparer.Ordinal)] : [];
    }

    /// <summary>Every clip row of the folder's files, file by file in name order.</summary>
    public static IEnumerable<ExtractedClip> ReadClips(string folder) => Files(folder, ClipsFolder).SelectMany(Read<ExtractedClip>);

    /// <summary>Every error row of the folder's files.</summary>
    public static IEnumerable<ExtractionError> ReadErrors(string folder) => Files(folder, ErrorsFolder).SelectMany(Read<ExtractionError>);

    /// <summary>
    /// The clip rows of an <c>i3d extract</c> output folder as an <see cref="IDataView"/>: <c>Video</c>, <c>Clip</c>,
    /// <c>StartFrame</c>, <c>Label</c> (text, empty when unknown), <c>FlowKey</c>, and whichever of <c>Features</c> and
    /// <c>Logits</c> (fixed-size float vectors) were extracted, plus <c>PredictedLabel</c> with the logits; train on it as
    /// on a featurizer's output (<c>MapValueToKey("Label")</c>, then a trainer on <c>Features</c>).
    /// </summary>
    public static IDataView Load(MLContext ml, string folder)
    {
        ArgumentNullException.ThrowIfNull(ml);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder (the --out of i3d extract)");
        // Streams: each cursor reads the files one at a time (a file holds --videos-per-file videos); the vector
        // lengths come from the first row and every later row is checked against them as it is read.
        var first = ReadClips(folder).FirstOrDefault()
            ?? throw new InvalidDataException($"{folder}: no clip rows in {Path.Combine(folder, ClipsFolder)}/*.parquet");
        int features = first.Features?.Length ?? 0, logits = first.Logits?.Length ?? 0;
        var schema = SchemaDefinition.Create(typeof(Row));
        var absent = new List<string>();
        foreach (var (name, length) in new[] { (nameof(Row.Features), features), (nameof(Row.Logits), logits) })
        {
            if (length == 0) absent.Add(name);
            else schema[name].ColumnType = new VectorDataViewType(NumberDataViewType.Single, length);
        }
        if (logits == 0) absent.Add(nameof(Row.PredictedLabel));
        var view = ml.Data.LoadFromEnumerable(Rows(folder, features, logits), schema);
        return absent.Count == 0 ? view : ml.Transforms.DropColumns([.. absent]).Fit(view).Transform(view);
    }

    /// <summary>The clip rows as <see cref="Row"/>s, re-read on each enumeration, each vector's length checked.</summary>
    private static IEnumerable<Row> Rows(string folder, int features, int logits)
    {
        foreach (var file in Files(folder, ClipsFolder))
            foreach (var r in Read<ExtractedClip>(file))
            {
                if ((r.Features?.Length ?? 0) != features || (r.Logits?.Length ?? 0) != logits)
                    throw new InvalidDataException($"{file}: video {r.Video} clip {r.Clip} has {r.Features?.Length ?? 0} features and {r.Logits?.Length ?? 0} logits, the folder's first row {features} and {logits}: files of different runs?");
                yield return new Row
                {
                    Video = r.Video, Clip = r.Clip, StartFrame = r.StartFrame, Label = r.Label ?? "", FlowKey = r.FlowKey ?? "",
                    Features = r.Features ?? [], Logits = r.Logits ?? [], PredictedLabel = r.PredictedLabel ?? "",
                };
            }
    }

    /// <summary>The ids of the videos the folder's clip and error files hold (only their <c>video</c> column is read):
    /// what a rerun skips.</summary>
    public static HashSet<string> CompletedVideos(string folder)
        => [.. Files(folder, ClipsFolder).Concat(Files(folder, ErrorsFolder)).SelectMany(Read<VideoOnly>).Select(r => r.Video)];

    /// <summary>Writes <paramref name="rows"/> to <paramref name="path"/> as one Parquet file, atomically.</summary>
    internal static void Write<T>(string path, IReadOnlyCollection<T> rows)
        => AtomicFile.Write(path, stream => ParquetSerializer.SerializeAsync(rows, stream).GetAwaiter().GetResult());

    /// <summary>The rows of one Parquet file.</summary>
    internal static IList<T> Read<T>(string path) where T : class, new()
    {
        using var stream = File.OpenRead(path);
        try
        {
            return ParquetSerializer.DeserializeAsync<T>(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: not a Parquet file of i3d extract ({e.Message})", e);
        }
    }

    private sealed class VideoOnly
    {
        [JsonPropertyName("video")]
        public string Video { get; set; } = "";
    }

    private sealed class Row
    {
        public string Video { get; set; } = "";
        public int Clip { get; set; }
        public int StartFrame { get; set; }
        public string Label { get; set; } = "";
        public string FlowKey { get; set; } = "";
        public float[] Features { get; set; } = [];
        public float[] Logits { get; set; } = [];
        public string PredictedLabel { get; set; } = "";
    }
}
