using System.Runtime.InteropServices;
using Google.Protobuf;
using I3D.MLNet.Torch.Inflation.Onnx.Proto;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inflation.Onnx;

/// <summary>An ONNX node with its attributes (the ints and int lists that Conv/Pool/BatchNormalization use).</summary>
internal sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, long[]> Ints, IReadOnlyDictionary<string, float> Floats);

/// <summary>The nodes (in file order, which ONNX requires to be topological) and float initializers of an ONNX model.</summary>
internal sealed class OnnxGraph
{
    private readonly Dictionary<string, TensorProto> initializers;

    private OnnxGraph(ModelProto model, string path)
    {
        Path = path;
        var g = model.Graph ?? throw new InvalidDataException($"{path}: the ONNX model has no graph");
        initializers = g.Initializer.ToDictionary(t => t.Name);
        Nodes = [.. g.Node.Select(n => new OnnxNode(n.OpType, [.. n.Input], [.. n.Output],
            n.Attribute.Where(a => a.Type is 2 or 7).ToDictionary(a => a.Name, a => a.Type == 2 ? new[] { a.I } : a.Ints.ToArray()),
            n.Attribute.Where(a => a.Type == 1).ToDictionary(a => a.Name, a => a.F)))];
    }

    public string Path { get; }
    public IReadOnlyList<OnnxNode> Nodes { get; }

    public static OnnxGraph Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such ONNX file", path);
        try
        {
            using var stream = File.OpenRead(path);
            return new OnnxGraph(ModelProto.Parser.ParseFrom(stream), path);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: not an ONNX model ({e.Message})", e);
        }
    }

    public bool IsInitializer(string name) => initializers.ContainsKey(name);

    /// <summary>The first dimension of an initializer (a convolution's output channels).</summary>
    public long OutChannels(string name) => initializers[name].Dims.FirstOrDefault();

    /// <summary>A float32 initializer as a CPU tensor of its shape.</summary>
    public Tensor Initializer(string name)
    {
        if (!initializers.TryGetValue(name, out var t)) throw new InvalidDataException($"{Path}: no initializer '{name}'");
        if (t.DataType != 1) throw new InvalidDataException($"{Path}: initializer '{name}' is of ONNX type {t.DataType}, not float");
        if (t.DataLocation != 0) throw new InvalidDataException($"{Path}: initializer '{name}' is stored outside the file (not supported)");
        long count = t.Dims.Aggregate(1L, (a, b) => a * b);
        float[] data = t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
        if (data.Length != count) throw new InvalidDataException($"{Path}: initializer '{name}' has {data.Length} values for shape ({string.Join(", ", t.Dims)})");
        return tensor(data, [.. t.Dims]);
    }
}
