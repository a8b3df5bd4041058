using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.ModelZip;

/// <summary>
/// Opens model zip files (<c>mlContext.Model.Save</c>) with errors that name the file: <c>mlContext.Model.Load</c> reads from
/// a stream and cannot, and what ML.NET's own zip, header and schema readers throw on a damaged file says neither the file
/// nor the part. The command line tool opens every zip through here.
/// </summary>
public static partial class ModelZipFile
{
    /// <summary>
    /// Loads the model zip at <paramref name="path"/>, then checks that its transformers fit the input schema saved with them
    /// (a damaged column name or type shows up there, not only when the first row is read).
    /// </summary>
    /// <param name="ml">The context to load into (its GPU settings apply to the loaded scorers).</param>
    /// <param name="path">The zip file.</param>
    /// <param name="inputSchema">The input schema saved in the zip.</param>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a model zip this release reads (damaged, truncated, another
    /// format or a newer format version); one line that names the file and what is wrong.</exception>
    public static ITransformer Load(MLContext ml, string path, out DataViewSchema inputSchema)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such model file", path);
        CheckEntrySizes(path);
        ITransformer model;
        try
        {
            model = ml.Model.Load(path, out inputSchema);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{path}: not a model zip this release can read ({Reason(e)})", e);
        }
        if (inputSchema is null) return model;
        try
        {
            model.GetOutputSchema(inputSchema);
        }
        catch (Exception e)
        {
            (model as IDisposable)?.Dispose();
            throw new InvalidDataException($"{path}: its transformers do not fit the input schema saved with them ({Reason(e)})", e);
        }
        return model;
    }

    /// <summary>Deflate expands at most about 1032 times: an entry that says it holds more was damaged in its size field.</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>
    /// Refuses a zip an entry of which claims more bytes than its compressed ones can hold, before ML.NET reads it: ML.NET
    /// allocates an entry's claimed size up front (up to 2 GB) to read it into memory.
    /// </summary>
    private static void CheckEntrySizes(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
                if (entry.Length > entry.CompressedLength * MaxDeflateRatio + 1024)
                    throw new InvalidDataException($"{path}: its entry {entry.FullName} says it holds {entry.Length} bytes in {entry.CompressedLength} compressed ones: the zip is damaged");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a zip file this release can read ({e.Message.Split('\n')[0].Trim()})", e);
        }
    }

    /// <summary>The innermost message (ML.NET wraps a loader's exception in reflection and "error during class instantiation"
    /// layers); ML.NET's refusal of a newer format version says the versions only on its third line, and swapped: said here.</summary>
    private static string Reason(Exception e)
    {
        string message = NativeDependencies.Innermost(e).Message;
        var newer = NewerVersion().Match(message);
        return newer.Success
            ? $"its component '{newer.Groups[1].Value}' was written by a newer release: format version 0x{uint.Parse(newer.Groups[2].Value, CultureInfo.InvariantCulture):X8}, "
              + $"this release reads up to 0x{uint.Parse(newer.Groups[3].Value, CultureInfo.InvariantCulture):X8}"
            : message.Split('\n')[0].Trim() + MLNetReader(NativeDependencies.Innermost(e));
    }

    /// <summary>Where inside ML.NET a generic message ("Corrupt model file") came from: the part of the zip its reader was reading
    /// (ModelHeader.BeginRead: an entry's model header; BinaryLoader: the saved schema); empty for a message of ours or .NET's.</summary>
    private static string MLNetReader(Exception e)
    {
        var method = new System.Diagnostics.StackTrace(e).GetFrames().Select(f => f.GetMethod()).FirstOrDefault(m => m?.DeclaringType?.Name is not (null or "Contracts"));
        return method?.DeclaringType is { Namespace: { } ns } type && ns.StartsWith("Microsoft.ML", StringComparison.Ordinal)
            && !ns.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) ? $", in ML.NET's {type.Name}.{method.Name}" : "";
    }

    // ModelHeader.CheckVersionInfo: "... cannont read component '{loader}' ... too new ... Maximum expected version {file's readable version}, got {ours}."
    [GeneratedRegex(@"read component '([^']*)' of the model, because the model is too new.*Maximum expected version (\d+), got (\d+)", RegexOptions.Singleline)]
    private static partial Regex NewerVersion();
}
