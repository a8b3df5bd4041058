using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.ModelZip;

/// <summary>
/// The shared plumbing that lets our transformers live in <c>mlContext.Model.Save</c> zips and come back with
/// <c>mlContext.Model.Load</c> in a fresh process without any registration call.
/// </summary>
/// <remarks>
/// ML.NET finds a loader through <c>[assembly: LoadableClass(...)]</c> in the assembly that
/// <see cref="VersionInfo"/>'s <c>loaderAssemblyName</c> names, then calls the transformer's static
/// <c>Create(IHostEnvironment, ModelLoadContext)</c>. Each transformer writes its column pairs, then its options as one JSON string
/// (new options with defaults read back from old zips; settings of the machine left out), and large state (weights, ONNX bytes) as
/// separate zip entries with <see cref="ModelSaveContext.SaveBinaryStream"/>.
/// </remarks>
internal static class ModelZipFormat
{
    /// <summary>Version 1.1: the first version of each of our formats. Each transformer keeps its own version (and its
    /// history, beside its save/load) and bumps it when its layout changes.</summary>
    public const uint Version1 = 0x00010001;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <param name="modelSignature">Exactly 8 characters, unique to the transformer's format.</param>
    /// <param name="loaderSignature">Globally unique (ML.NET's component catalog keys loaders by it), at most 24 characters.</param>
    /// <param name="transformer">The transformer type; its assembly is where ML.NET looks for the loader.</param>
    /// <param name="current">The version this code writes.</param>
    /// <param name="oldestReadable">The oldest version this code still reads. ML.NET refuses a zip whose readable
    /// version is newer than <paramref name="current"/> (written by a newer release) or older than this.</param>
    public static VersionInfo Version(string modelSignature, string loaderSignature, Type transformer, uint current = Version1, uint oldestReadable = Version1)
    {
        if (modelSignature.Length != 8) throw new ArgumentException("a model signature has exactly 8 characters", nameof(modelSignature));
        if (loaderSignature.Length > 24) throw new ArgumentException("a loader signature has at most 24 characters (the zip header's field)", nameof(loaderSignature));
        return new VersionInfo(modelSignature, current, current, oldestReadable, loaderSignature: loaderSignature, loaderAssemblyName: transformer.Assembly.FullName);
    }

    public static void WriteOptions<T>(ModelSaveContext ctx, T options) => ctx.Writer.Write(JsonSerializer.Serialize(options, Json));

    public static T ReadOptions<T>(ModelLoadContext ctx)
        => Read(ctx, typeof(T).Name, () => JsonSerializer.Deserialize<T>(ctx.Reader.ReadString(), Json) ?? throw new InvalidDataException("it is empty"));

    /// <summary>
    /// The column pairs ML.NET's <c>OneToOneTransformerBase</c> writes (a count, then the output and input names as ids in
    /// the string table), read with the count checked against the bytes left before anything is allocated.
    /// </summary>
    /// <param name="ctx">The transformer's load context, at its column pairs.</param>
    /// <param name="what">What the transformer is, for messages (its options' type name).</param>
    public static (string outputColumnName, string inputColumnName)[] ReadColumns(ModelLoadContext ctx, string what) => Read(ctx, $"{what} column pairs", () =>
    {
        int count = ctx.Reader.ReadInt32();
        if (count < 1 || count > BytesLeft(ctx.Reader) / (2 * sizeof(int)))
            throw new InvalidDataException($"it says {count} column pairs, the entry has room for {BytesLeft(ctx.Reader) / (2 * sizeof(int))}");
        var columns = new (string, string)[count];
        for (int i = 0; i < count; i++) columns[i] = (ctx.LoadNonEmptyString(), ctx.LoadNonEmptyString());
        return columns;
    });

    /// <summary>A length-prefixed block of bytes (an int32 length, then the bytes) as <c>SaveBinaryStream</c> entries of ours
    /// hold them, with the length checked against the bytes left before anything is allocated.</summary>
    public static byte[] ReadBlock(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < 0 || length > BytesLeft(reader))
            throw new InvalidDataException($"it says {length} bytes follow, the entry has {BytesLeft(reader)}");
        return reader.ReadBytes(length);
    }

    /// <summary>
    /// Runs <paramref name="read"/> on a model zip's entry: what a damaged entry makes readers throw (an end of stream, a bad
    /// string id, bad JSON, a failed check) comes out as one <see cref="InvalidDataException"/> that names the part and the
    /// entry, for the caller of <c>mlContext.Model.Load</c> to prefix with the file (<see cref="ModelZipFile.Load"/> does).
    /// </summary>
    /// <param name="ctx">The load context (its directory names the entry).</param>
    /// <param name="what">The part being read ("ClipSamplerOptions", "weights of the rgb stream").</param>
    /// <param name="read">The reading.</param>
    /// <param name="entry">The entry's name inside the transformer's directory, when it is not the transformer's own Model.key.</param>
    public static T Read<T>(ModelLoadContext ctx, string what, Func<T> read, string entry = ModelEntry)
    {
        try { return read(); }
        catch (Exception e) when (e is EndOfStreamException or FormatException or InvalidDataException or JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new InvalidDataException($"the model zip's {what} (entry {EntryName(ctx, entry)}) is damaged or of another release: {e.Message.Split('\n')[0].Trim()}", e);
        }
    }

    /// <summary>ML.NET's name of a transformer's own entry in its directory.</summary>
    public const string ModelEntry = "Model.key";

    /// <summary>The full name in the zip of the entry <paramref name="entry"/> of the transformer being loaded.</summary>
    public static string EntryName(ModelLoadContext ctx, string entry) => string.IsNullOrEmpty(ctx.Directory) ? entry : $"{ctx.Directory}/{entry}";

    private static long BytesLeft(BinaryReader reader) => reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position : int.MaxValue;

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static T FromJson<T>(string json) => JsonSerializer.Deserialize<T>(json, Json) ?? throw new InvalidDataException($"no {typeof(T).Name} in '{json}'");
}
