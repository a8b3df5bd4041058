using I3D.MLNet.Scoring;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace I3D.MLNet.Onnx;

/// <summary>Where ONNX Runtime runs a model.</summary>
public enum OnnxExecutionProvider
{
    /// <summary>The CPU.</summary>
    Cpu,

    /// <summary>CUDA; when it cannot load (no GPU, or the application ships the CPU runtime) a warning is logged and the CPU is used.</summary>
    Cuda,

    /// <summary>CUDA when it loads, else the CPU (logged as information).</summary>
    Auto,
}

/// <summary>How ONNX Runtime sessions are made.</summary>
public sealed record OnnxSessionSettings
{
    /// <summary>Where sessions run: CPU (default), CUDA, or CUDA when it loads (Auto).</summary>
    public OnnxExecutionProvider ExecutionProvider { get; init; } = OnnxExecutionProvider.Cpu;

    /// <summary>CUDA device ordinal.</summary>
    public int GpuDeviceId { get; init; }

    /// <summary>Threads inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>ONNX Runtime's graph optimisation level (ALL and EXTENDED measured within 4% of each other for I3D on
    /// AMD EPYC Zen 5 and on Intel: benchmarks/RESULTS.md).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
}

/// <summary>
/// One stream's ONNX model in the <see cref="I3DOnnxFormat"/> contract, in one ONNX Runtime session reused for every
/// call (ONNX Runtime allows concurrent <c>Run</c> calls on a session).
/// </summary>
public sealed class I3DOnnxModel : IDisposable
{
    private readonly InferenceSession session;

    private I3DOnnxModel(InferenceSession session, byte[] bytes, string source, string executionProvider)
    {
        this.session = session;
        Bytes = bytes;
        Source = source;
        ExecutionProvider = executionProvider;
        Describe(session, source, out var input, out int classes);
        Channels = input[1];
        Height = input[3];
        Width = input[4];
        var meta = session.ModelMetadata.CustomMetadataMap;
        Stream = meta.TryGetValue(I3DOnnxFormat.StreamKey, out var stream)
            ? VideoStreams.Parse(stream, $"{source}: its metadata")
            : VideoStreams.OfChannels(Channels);
        if (Stream.Channels() != Channels)
            throw new InvalidDataException($"{source}: its metadata says stream '{Stream.Name()}' but its input has {Channels} channels");
        if (meta.TryGetValue(I3DOnnxFormat.LayoutKey, out var layout) && layout != I3DOnnxFormat.Layout)
            throw new InvalidDataException($"{source}: its input layout is {layout}; this scorer feeds {I3DOnnxFormat.Layout} clips");
        Classes = meta.TryGetValue(I3DOnnxFormat.ClassesKey, out var names) ? I3DOnnxFormat.SplitClasses(names)
            : [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        if (classes > 0 && Classes.Count != classes)
            throw new InvalidDataException($"{source}: its metadata names {Classes.Count} classes but its output has {classes}");
    }

    /// <summary>Opens a model (a file from <c>i3d export-onnx</c>); <paramref name="log"/> hears about execution provider fallbacks.</summary>
    public static I3DOnnxModel Load(string path, OnnxSessionSettings? settings = null, Action<string>? log = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such ONNX model", path);
        return Load(File.ReadAllBytes(path), path, settings, log);
    }

    /// <summary>Opens a model from its bytes; <paramref name="source"/> is how errors name it (its path).</summary>
    public static I3DOnnxModel Load(byte[] bytes, string source, OnnxSessionSettings? settings = null, Action<string>? log = null)
    {
        settings ??= new OnnxSessionSettings();
        var options = new SessionOptions { GraphOptimizationLevel = settings.OptimizationLevel };
        try
        {
            if (settings.IntraOpThreads > 0) options.IntraOpNumThreads = settings.IntraOpThreads;
            string provider = "CPU";
            if (settings.ExecutionProvider != OnnxExecutionProvider.Cpu)
            {
                try
                {
                    options.AppendExecutionProvider_CUDA(settings.GpuDeviceId);
                    provider = "CUDA";
                }
                catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
                {
                    // The options may be half-configured: start again without CUDA.
                    options.Dispose();
                    options = new SessionOptions { GraphOptimizationLevel = settings.OptimizationLevel };
                    if (settings.IntraOpThreads > 0) options.IntraOpNumThreads = settings.IntraOpThreads;
                    string why = e.Message.Split('\n')[0].Trim();
                    log?.Invoke(settings.ExecutionProvider == OnnxExecutionProvider.Cuda
                        ? $"{source}: CUDA was asked for but cannot be used ({why}); running on the CPU"
                        : $"{source}: CUDA is not available ({why}); running on the CPU");
                }
            }
            InferenceSession session;
            try
            {
                session = new InferenceSession(bytes, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidDataException($"{source}: not an ONNX model ONNX Runtime can load ({e.Message.Split('\n')[0].Trim()})", e);
            }
            try
            {
                return new I3DOnnxModel(session, bytes, source, provider);
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }
        finally
        {
            options.Dispose();
        }
    }

    /// <summary>The model file's bytes (saved into model zips).</summary>
    public byte[] Bytes { get; }

    /// <summary>Where the model came from (a path, or a description of the bytes), for messages.</summary>
    public string Source { get; }

    /// <summary>rgb or flow.</summary>
    public VideoStream Stream { get; }

    /// <summary>Input channels: 3 for RGB, 2 for flow.</summary>
    public int Channels { get; }

    /// <summary>Frame height and width the model takes; -1 where it takes any.</summary>
    public int Height { get; }

    /// <summary>Frame width the model takes; -1 where it takes any.</summary>
    public int Width { get; }

    /// <summary>Class names in class order (the model's metadata).</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>CPU or CUDA: where the session runs.</summary>
    public string ExecutionProvider { get; }

    /// <summary>The input the model takes, as people write it: [batch, 3, time, 224, 224].</summary>
    public string InputDescription => $"[batch, {Channels}, time, {Dim(Height, "height")}, {Dim(Width, "width")}]";

    private static string Dim(int d, string name) => d < 0 ? name : d.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Throws unless <paramref name="shape"/> (N, C, T, H, W) is a clip batch the model takes.</summary>
    public void CheckClipShape(ReadOnlySpan<long> shape, string what)
    {
        bool ok = shape.Length == 5 && shape[0] >= 1 && shape[1] == Channels && shape[2] >= 1
            && (Height < 0 || shape[3] == Height) && (Width < 0 || shape[4] == Width) && shape[3] >= 1 && shape[4] >= 1;
        if (!ok)
            throw new ArgumentException($"{what} have shape N x C x T x H x W = {string.Join(" x ", shape.ToArray())}; {Source} ({Stream.Name()}) takes {InputDescription}");
    }

    /// <summary>Time-averaged logits of each of the N clips (N, C, T, H, W), averaged over the clips.</summary>
    public float[] Logits(float[] clips, long[] shape, string what = "the clips")
    {
        CheckClipShape(shape, what);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != clips.Length) throw new ArgumentException($"{what}: {clips.Length} values for shape {string.Join(" x ", shape)} ({count})");
        using var input = OrtValue.CreateTensorValueFromMemory(clips, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [I3DOnnxFormat.InputName], [input], [I3DOnnxFormat.OutputName]);
        var values = outputs[0].GetTensorDataAsSpan<float>();
        int n = (int)shape[0], classes = Classes.Count;
        if (values.Length != n * classes)
            throw new InvalidDataException($"{Source}: {values.Length} logits for {n} clips of {classes} classes");
        var mean = new float[classes];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < classes; c++) mean[c] += values[i * classes + c];
        for (int c = 0; c < classes; c++) mean[c] /= n;
        return mean;
    }

    /// <summary>Throws unless <paramref name="models"/> are different streams with the same classes (their logits get summed).</summary>
    public static void CheckCanCombine(IReadOnlyList<I3DOnnxModel> models)
    {
        for (int i = 1; i < models.Count; i++)
        {
            var (first, other) = (models[0], models[i]);
            if (other.Stream == first.Stream)
                throw new ArgumentException($"{first.Source} and {other.Source} are both {first.Stream.Name()} models; give one RGB and one flow model");
            if (!other.Classes.SequenceEqual(first.Classes))
                throw new ArgumentException($"{first.Source} has {first.Classes.Count} classes and {other.Source} {other.Classes.Count} (or other names): their logits cannot be summed");
        }
    }

    /// <summary>Checks the input and output against <see cref="I3DOnnxFormat"/>: input dims [N, C, T, H, W] (-1 where symbolic).</summary>
    private static void Describe(InferenceSession session, string source, out int[] input, out int classes)
    {
        static string Of(IReadOnlyDictionary<string, NodeMetadata> values) => string.Join(", ", values.Select(v =>
            $"'{v.Key}' {(v.Value.IsTensor ? v.Value.ElementDataType.ToString().ToLowerInvariant() : v.Value.OnnxValueType.ToString())} " +
            $"[{string.Join(", ", v.Value.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : v.Value.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]"));
        string Mismatch() => $"{source}: expected an I3D model with input '{I3DOnnxFormat.InputName}' float [batch, 3, 2 or 5, time, H, W] and output "
            + $"'{I3DOnnxFormat.OutputName}' float [batch, classes] (as i3d export-onnx writes); it has input {Of(session.InputMetadata)} and output {Of(session.OutputMetadata)}";
        if (session.InputMetadata.Count != 1 || !session.InputMetadata.TryGetValue(I3DOnnxFormat.InputName, out var i)
            || !session.OutputMetadata.TryGetValue(I3DOnnxFormat.OutputName, out var o)
            || !i.IsTensor || i.ElementDataType != TensorElementType.Float || i.Dimensions.Length != 5 || i.Dimensions[1] is not (2 or 3 or 5)
            || !o.IsTensor || o.ElementDataType != TensorElementType.Float || o.Dimensions.Length != 2)
            throw new InvalidDataException(Mismatch());
        input = i.Dimensions;
        classes = o.Dimensions[1];
    }

    /// <inheritdoc/>
    public void Dispose() => session.Dispose();
}
