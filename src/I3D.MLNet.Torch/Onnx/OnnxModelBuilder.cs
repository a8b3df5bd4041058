using System.Runtime.InteropServices;
using Google.Protobuf;
using I3D.MLNet.Torch.Inflation.Onnx.Proto;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Onnx;

/// <summary>Builds an ONNX <see cref="ModelProto"/> node by node with the generated protobuf classes.</summary>
internal sealed class OnnxModelBuilder
{
    public const int Float = 1, Int64 = 7;

    private readonly GraphProto graph;
    private readonly HashSet<string> names = [];
    private int counter;

    public OnnxModelBuilder(string graphName) => graph = new GraphProto { Name = graphName };

    /// <summary>A fresh value name from <paramref name="hint"/>.</summary>
    public string Name(string hint)
    {
        string name = hint;
        while (!names.Add(name)) name = $"{hint}_{++counter}";
        return name;
    }

    /// <summary>A float32 initializer with the values and shape of <paramref name="value"/> (any device or type).</summary>
    public string Initializer(string hint, Tensor value)
    {
        using var cpu = value.detach().to(ScalarType.Float32).cpu().contiguous();
        var data = cpu.data<float>().ToArray();
        var t = new TensorProto { Name = Name(hint), DataType = Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
        t.Dims.AddRange(cpu.shape);
        graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>An int64 initializer: a scalar when <paramref name="scalar"/>, else a 1-D tensor.</summary>
    public string Int64s(string hint, long[] values, bool scalar = false)
    {
        if (scalar && values.Length != 1) throw new ArgumentException("a scalar has one value");
        var t = new TensorProto { Name = Name(hint), DataType = Int64 };
        if (!scalar) t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        graph.Initializer.Add(t);
        return t.Name;
    }

    public string Scalar(string hint, long value) => Int64s(hint, [value], scalar: true);

    public string FloatScalar(string hint, float value)
    {
        var t = new TensorProto { Name = Name(hint), DataType = Float };
        t.FloatData.Add(value);
        graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>Adds a node; returns its (single) output's name.</summary>
    public string Node(string opType, string outputHint, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        string output = Name(outputHint);
        var node = new NodeProto { OpType = opType, Name = Name($"{outputHint}/{opType}") };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    /// <summary>Renames the last node's output (the graph output must carry the declared name).</summary>
    public void RenameLastOutput(string name)
    {
        var node = graph.Node[^1];
        names.Remove(node.Output[0]);
        if (!names.Add(name)) throw new InvalidOperationException($"the name '{name}' is taken");
        node.Output[0] = name;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = 7 };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = 2, I = value };

    public static AttributeProto Text(string name, string value) => new() { Name = name, Type = 3, S = ByteString.CopyFromUtf8(value) };

    /// <summary>A value description: float32 or int64 with fixed (long) and symbolic (string) dimensions.</summary>
    public static ValueInfoProto Value(string name, int elementType, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                _ => throw new ArgumentException($"a dimension is a number or a name, not {d}"),
            });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } },
        };
    }

    public void Input(ValueInfoProto value)
    {
        if (!names.Add(value.Name)) throw new InvalidOperationException($"the name '{value.Name}' is taken");
        graph.Input.Add(value);
    }

    public void Output(ValueInfoProto value) => graph.Output.Add(value);

    /// <summary>The model: IR version 8 (opset 17's), the default domain at <paramref name="opset"/>.</summary>
    public ModelProto Build(int opset, IEnumerable<KeyValuePair<string, string>> metadata, string docString)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "I3D.MLNet",
            ProducerVersion = typeof(OnnxModelBuilder).Assembly.GetName().Version?.ToString() ?? "",
            DocString = docString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (key, value) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }
}
