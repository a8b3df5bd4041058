using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace I3D.MLNet.Torch.Weights;

/// <summary>Thrown for a weight file that is not a readable PyTorch state_dict; the message names the file.</summary>
public sealed class WeightFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A Python global the unpickler accepts (<c>module.name</c>).</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A reference to a storage (persistent id): its key, element type and element count.</summary>
internal sealed record StorageRef(string Key, string StorageType, long Numel, StorageView? View);

/// <summary>Part of another storage (legacy files only).</summary>
internal sealed record StorageView(string RootKey, long Offset, long Numel);

/// <summary>A tensor described by <c>torch._utils._rebuild_tensor(_v2)</c>.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>An <c>collections.OrderedDict</c> or a plain dict.</summary>
internal sealed class PickleDict : List<KeyValuePair<object?, object?>>;

/// <summary>Marker object for <c>pickle.MARK</c>.</summary>
internal sealed class PickleMark
{
    public static readonly PickleMark Instance = new();
}

/// <summary>
/// A pickle reader that runs no code: a pickle is a program that may call any Python global, so this reader
/// interprets only the opcodes a <c>torch.save(state_dict)</c> uses (protocols 2-5, no NEWOBJ/INST/OBJ) and
/// resolves only the globals a state_dict needs (<see cref="AllowedGlobals"/>); anything else stops the reading
/// with an error naming the file and the offending global or opcode.
/// </summary>
internal sealed class RestrictedUnpickler
{
    public static readonly IReadOnlySet<string> StorageTypes = new HashSet<string>
    {
        "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
        "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
    };

    private static readonly HashSet<string> AllowedGlobals =
    [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", .. StorageTypes.Select(s => "torch." + s),
    ];

    private readonly string fileName;
    private readonly Stream stream;
    private readonly List<object?> stack = [];
    private readonly Dictionary<long, object?> memo = [];

    public RestrictedUnpickler(Stream stream, string fileName)
    {
        this.stream = stream;
        this.fileName = fileName;
    }

    /// <summary>Reads one pickle (up to and including STOP) and returns its value.</summary>
    public object? Load()
    {
        stack.Clear();
        memo.Clear();
        while (true)
        {
            long at = stream.Position;
            int op = stream.ReadByte();
            if (op < 0) throw Error($"the pickle ends early (offset {at}): the file is truncated");
            switch (op)
            {
                case 0x80: ReadByte(); break; // PROTO
                case 0x95: ReadBytes(8); break; // FRAME
                case '.': // STOP
                    if (stack.Count != 1) throw Error($"malformed pickle: {stack.Count} values at STOP");
                    return stack[0];
                case '(': stack.Add(PickleMark.Instance); break;
                case '}': stack.Add(new PickleDict()); break;
                case ']': stack.Add(new List<object?>()); break;
                case ')': stack.Add(Array.Empty<object?>()); break;
                case 't': stack.Add(PopMark().ToArray()); break;
                case 0x85: stack.Add(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; }
                case 'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case 'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case 'K': stack.Add((long)ReadByte()); break;
                case 'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 0x8a: stack.Add(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: stack.Add(ReadLong(ReadLength(4))); break; // LONG4
                case 'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;
                case 'X': stack.Add(Encoding.UTF8.GetString(ReadBytes(ReadLength(4)))); break;
                case 0x8c: stack.Add(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break;
                case 0x8d: stack.Add(Encoding.UTF8.GetString(ReadBytes(ReadLength(8)))); break;
                case 'T': stack.Add(Encoding.Latin1.GetString(ReadBytes(ReadLength(4)))); break;
                case 'U': stack.Add(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break;
                case 'B': stack.Add(ReadBytes(ReadLength(4))); break;
                case 'C': stack.Add(ReadBytes(ReadByte())); break;
                case 'q': memo[ReadByte()] = Peek(); break;
                case 'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break;
                case 0x94: memo[memo.Count] = Peek(); break; // MEMOIZE
                case 'h': stack.Add(Memo(ReadByte())); break;
                case 'j': stack.Add(Memo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break;
                case 'c': stack.Add(Global(ReadLine(), ReadLine())); break;
                case 0x93: { var name = Pop() as string; var module = Pop() as string; stack.Add(Global(module ?? "?", name ?? "?")); break; }
                case 'Q': stack.Add(PersistentId(Pop())); break;
                case 'R': { var args = Pop(); var callable = Pop(); stack.Add(Reduce(callable, args)); break; }
                case 'b': { var state = Pop(); Build(Peek(), state); break; }
                case 's': { var v = Pop(); var k = Pop(); AsDict(Peek()).Add(new(k, v)); break; }
                case 'u':
                {
                    var items = PopMark();
                    var dict = AsDict(Peek());
                    for (int i = 0; i + 1 < items.Count; i += 2) dict.Add(new(items[i], items[i + 1]));
                    break;
                }
                case 'a': { var v = Pop(); AsList(Peek()).Add(v); break; }
                case 'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; }
                case '0': Pop(); break;
                default:
                    throw Error($"pickle opcode 0x{op:x2} ('{(char)op}') at offset {at} is not allowed in a state_dict (or the file is not a pickle)");
            }
        }
    }

    private object Global(string module, string name)
    {
        var g = new PickleGlobal(module, name);
        if (!AllowedGlobals.Contains(g.ToString()))
            throw Error($"refuses to load the Python global '{g}': only a plain state_dict of tensors is accepted (this file may hold a whole pickled model or arbitrary code)");
        return g;
    }

    private object PersistentId(object? pid)
    {
        // zip: ('storage', FloatStorage, key, location, numel); legacy: (..., numel, view_metadata).
        if (pid is not object?[] t || t.Length < 5 || t[0] as string != "storage" || t[1] is not PickleGlobal type)
            throw Error("unexpected persistent id (not a tensor storage)");
        StorageView? view = null;
        if (t.Length > 5 && t[5] is object?[] v && v.Length == 3)
            view = new StorageView(KeyString(v[0]), Long(v[1], "a storage view's offset"), Long(v[2], "a storage view's size"));
        return new StorageRef(KeyString(t[2]), type.Name, Long(t[4], "a storage's size"), view);
    }

    private string KeyString(object? key) => key switch
    {
        string s => s,
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BigInteger b => b.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw Error($"a storage key is a {key?.GetType().Name ?? "None"}"),
    };

    /// <summary>A number the pickle must hold as a Python int (a size, stride or offset): a float, string or a number beyond 2^63 there is refused.</summary>
    private long Long(object? o, string what) => o is long l ? l : throw Error($"{what} is {(o is BigInteger ? "beyond 2^63" : $"a {o?.GetType().Name ?? "None"}, not an int")}");

    private object? Reduce(object? callable, object? args)
    {
        if (callable is not PickleGlobal g || args is not object?[] a) throw Error("malformed REDUCE");
        switch (g.ToString())
        {
            case "collections.OrderedDict" when a.Length == 0:
                return new PickleDict();
            case "collections.OrderedDict" when a.Length == 1 && a[0] is List<object?> pairs:
            {
                // Python 2's OrderedDict.__reduce__ passes the items as a list of [key, value] lists.
                var dict = new PickleDict();
                foreach (var pair in pairs)
                {
                    IList<object?> kv = pair as IList<object?> ?? throw Error("malformed OrderedDict items");
                    if (kv.Count != 2) throw Error("malformed OrderedDict items");
                    dict.Add(new(kv[0], kv[1]));
                }
                return dict;
            }
            case "torch._utils._rebuild_tensor_v2" when a.Length >= 4:
            case "torch._utils._rebuild_tensor" when a.Length >= 4:
                if (a[0] is not StorageRef storage) throw Error($"{g} without a storage");
                return new TensorRef(storage, Long(a[1], "the storage offset of a tensor"), Longs(a[2], "a tensor's sizes"), Longs(a[3], "a tensor's strides"));
            case "torch._utils._rebuild_parameter" when a.Length >= 1 && a[0] is TensorRef t:
                return t;
            default:
                throw Error($"refuses to call '{g}' with {a.Length} arguments");
        }
    }

    private long[] Longs(object? o, string what) => o is object?[] t ? [.. t.Select(x => Long(x, what))] : throw Error($"{what} are not a tuple");

    private void Build(object? target, object? state)
    {
        // OrderedDict.__setstate__: the state_dict's _metadata attribute (version numbers); nothing to keep.
        if (target is PickleDict && (state is PickleDict || state is null)) return;
        throw Error("refuses to set the state of an object other than a state_dict");
    }

    private PickleDict AsDict(object? o) => o as PickleDict ?? throw Error("malformed pickle: SETITEM on a non-dict");
    private List<object?> AsList(object? o) => o as List<object?> ?? throw Error("malformed pickle: APPEND on a non-list");

    private object? Memo(long key) => memo.TryGetValue(key, out var v) ? v : throw Error($"malformed pickle: memo {key} unset");

    private object? Pop()
    {
        if (stack.Count == 0) throw Error("malformed pickle: stack underflow");
        var v = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return v;
    }

    private object? Peek() => stack.Count > 0 ? stack[^1] : throw Error("malformed pickle: empty stack");

    private List<object?> PopMark()
    {
        int mark = stack.FindLastIndex(o => ReferenceEquals(o, PickleMark.Instance));
        if (mark < 0) throw Error("malformed pickle: no MARK");
        var items = stack.GetRange(mark + 1, stack.Count - mark - 1);
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    private int ReadByte()
    {
        int b = stream.ReadByte();
        return b >= 0 ? b : throw Error("the pickle ends early: the file is truncated");
    }

    private int ReadLength(int bytes)
    {
        var span = ReadBytes(bytes);
        long n = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(span) : (long)BinaryPrimitives.ReadUInt64LittleEndian(span);
        if (n < 0 || n > stream.Length - stream.Position) throw Error("the pickle ends early: the file is truncated");
        return (int)n;
    }

    private byte[] ReadBytes(int count)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = stream.Read(buffer, read, count - read);
            if (n <= 0) throw Error("the pickle ends early: the file is truncated");
            read += n;
        }
        return buffer;
    }

    private object ReadLong(int bytes)
    {
        var value = new BigInteger(ReadBytes(bytes), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        for (int b = ReadByte(); b != '\n'; b = ReadByte())
        {
            if (sb.Length > 256) throw Error("malformed pickle: GLOBAL name too long");
            sb.Append((char)b);
        }
        return sb.ToString();
    }

    private WeightFileException Error(string message) => new($"{fileName}: {message}");
}
