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
    {
        try { return JsonSerializer.Deserialize<T>(ctx.Reader.ReadString(), Json) ?? throw new InvalidDataException($"the model zip holds no {typeof(T).Name}"); }
        catch (JsonException e) { throw new InvalidDataException($"the model zip's {typeof(T).Name} is damaged or of another release: {e.Message}", e); }
    }

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static T FromJson<T>(string json) => JsonSerializer.Deserialize<T>(json, Json) ?? throw new InvalidDataException($"no {typeof(T).Name} in '{json}'");
}
