using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// Finds, in compiled IL, the calls that hand libtorch a temporary TorchSharp Scalar (see HeldScalars): an implicit
/// conversion to Scalar at the call, a TorchSharp method that makes one itself (found in TorchSharp.dll: those that call
/// Scalar's implicit conversions or ToScalar, and every TorchSharp method that calls those), and the construction of a
/// TorchSharp module or optimizer whose own forward or step does.
/// </summary>
internal sealed class TemporaryScalarScanner
{
    private static readonly Dictionary<ushort, OpCode> OpCodesByValue = typeof(OpCodes).GetFields()
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(op => (ushort)op.Value);

    private readonly HashSet<string> makers = [];
    private readonly HashSet<string> types = [];

    /// <summary>Reads TorchSharp.dll: its methods that make temporary Scalars, and the types whose overrides do.</summary>
    public TemporaryScalarScanner(string torchSharpPath)
    {
        using var pe = new PEReader(File.OpenRead(torchSharpPath));
        var md = pe.GetMetadataReader();
        var callers = new Dictionary<MethodDefinitionHandle, List<MethodDefinitionHandle>>();
        var seeds = new List<MethodDefinitionHandle>();
        foreach (var th in md.TypeDefinitions)
            foreach (var mh in md.GetTypeDefinition(th).GetMethods())
                foreach (var (_, callee) in Calls(pe, md, mh))
                {
                    if (callee.Kind != HandleKind.MethodDefinition) continue;
                    var target = (MethodDefinitionHandle)callee;
                    var def = md.GetMethodDefinition(target);
                    string owner = md.GetString(md.GetTypeDefinition(def.GetDeclaringType()).Name), name = md.GetString(def.Name);
                    if (owner == "Scalar" && name == "op_Implicit" || owner == "ScalarExtensionMethods" && name == "ToScalar" || name == "ToScalar" && owner == "TensorExtensionMethods")
                        seeds.Add(mh);
                    (callers.TryGetValue(target, out var list) ? list : callers[target] = []).Add(mh);
                }
        var tainted = new HashSet<MethodDefinitionHandle>();
        var queue = new Queue<MethodDefinitionHandle>(seeds);
        while (queue.TryDequeue(out var m))
        {
            if (!tainted.Add(m)) continue;
            foreach (var c in callers.GetValueOrDefault(m, [])) queue.Enqueue(c);
        }
        foreach (var m in tainted)
        {
            var def = md.GetMethodDefinition(m);
            string owner = FullName(md, def.GetDeclaringType());
            makers.Add($"{owner}::{md.GetString(def.Name)}({string.Join(",", def.DecodeSignature(new TypeNames(), null).ParameterTypes)})");
            if ((def.Attributes & System.Reflection.MethodAttributes.Virtual) != 0 && md.GetString(def.Name) is "forward" or "step")
                types.Add(owner);
        }
        // Subclasses inherit a tainted forward or step unless they override it (TorchSharp's BatchNorm3d: BatchNorm's).
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var th in md.TypeDefinitions)
            {
                var td = md.GetTypeDefinition(th);
                if (!td.BaseType.IsNil && td.BaseType.Kind == HandleKind.TypeDefinition && types.Contains(FullName(md, (TypeDefinitionHandle)td.BaseType)))
                    grew |= types.Add(FullName(md, th));
            }
        }
    }

    /// <summary>The TorchSharp types whose forward or step makes temporary Scalars (for the test's sanity check).</summary>
    public IReadOnlySet<string> TaintedTypes => types;

    /// <summary>Each offending call in <paramref name="assemblyPath"/>: "Type.Method calls TorchSharp-member".</summary>
    public List<string> Scan(string assemblyPath, Func<string, bool>? includeType = null)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        var found = new List<string>();
        foreach (var th in md.TypeDefinitions)
        {
            string typeName = FullName(md, th);
            if (includeType is not null && !includeType(typeName)) continue;
            foreach (var mh in md.GetTypeDefinition(th).GetMethods())
                foreach (var (op, callee) in Calls(pe, md, mh))
                {
                    var h = callee.Kind == HandleKind.MethodSpecification ? md.GetMethodSpecification((MethodSpecificationHandle)callee).Method : callee;
                    if (h.Kind != HandleKind.MemberReference) continue;
                    var r = md.GetMemberReference((MemberReferenceHandle)h);
                    if (r.GetKind() != MemberReferenceKind.Method) continue;
                    string owner = ParentName(md, r.Parent);
                    if (!owner.StartsWith("TorchSharp.", StringComparison.Ordinal)) continue;
                    var signature = r.DecodeMethodSignature(new TypeNames(), null);
                    string member = $"{owner}::{md.GetString(r.Name)}({string.Join(",", signature.ParameterTypes)})";
                    bool bad = makers.Contains(member)
                        || op == OpCodes.Newobj && types.Contains(owner)
                        || op != OpCodes.Newobj && md.GetString(r.Name) != ".ctor" && types.Contains(signature.ReturnType);
                    if (bad) found.Add($"{typeName}.{md.GetString(md.GetMethodDefinition(mh).Name)} calls {member}");
                }
        }
        return found;
    }

    private static IEnumerable<(OpCode Op, EntityHandle Callee)> Calls(PEReader pe, MetadataReader md, MethodDefinitionHandle mh)
    {
        var def = md.GetMethodDefinition(mh);
        if (def.RelativeVirtualAddress == 0) yield break;
        var il = pe.GetMethodBody(def.RelativeVirtualAddress).GetILBytes()!;
        for (int i = 0; i < il.Length;)
        {
            ushort value = il[i] == 0xFE ? (ushort)(0xFE00 | il[++i]) : il[i];
            var op = OpCodesByValue[value];
            i++;
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op == OpCodes.Call || op == OpCodes.Callvirt || op == OpCodes.Newobj || op == OpCodes.Ldftn)
                yield return (op, MetadataTokens.EntityHandle(BitConverter.ToInt32(il, i)));
            i += size;
        }
    }

    private static string FullName(MetadataReader md, TypeDefinitionHandle h)
    {
        var td = md.GetTypeDefinition(h);
        var outer = td.GetDeclaringType();
        return outer.IsNil ? $"{md.GetString(td.Namespace)}.{md.GetString(td.Name)}" : $"{FullName(md, outer)}+{md.GetString(td.Name)}";
    }

    private static string ParentName(MetadataReader md, EntityHandle parent) => parent.Kind switch
    {
        HandleKind.TypeReference => ReferenceName(md, (TypeReferenceHandle)parent),
        HandleKind.TypeDefinition => FullName(md, (TypeDefinitionHandle)parent),
        _ => "",
    };

    private static string ReferenceName(MetadataReader md, TypeReferenceHandle h)
    {
        var r = md.GetTypeReference(h);
        return r.ResolutionScope.Kind == HandleKind.TypeReference
            ? $"{ReferenceName(md, (TypeReferenceHandle)r.ResolutionScope)}+{md.GetString(r.Name)}"
            : $"{md.GetString(r.Namespace)}.{md.GetString(r.Name)}";
    }

    /// <summary>Parameter and return types as full names, so a signature reads the same in TorchSharp.dll and in ours.</summary>
    private sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string GetArrayType(string element, ArrayShape shape) => element + "[,]";
        public string GetByReferenceType(string element) => element + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string generic, ImmutableArray<string> arguments) => $"{generic}<{string.Join(",", arguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodified, bool isRequired) => unmodified;
        public string GetPinnedType(string element) => element;
        public string GetPointerType(string element) => element + "*";
        public string GetPrimitiveType(PrimitiveTypeCode code) => code.ToString();
        public string GetSZArrayType(string element) => element + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte kind) => FullName(reader, handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte kind) => ReferenceName(reader, handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte kind) => "spec";
    }
}
