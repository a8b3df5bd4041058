using I3D.MLNet.Torch.Models;

namespace I3D.MLNet.Torch.Backbones;

/// <summary>The registry of architectures, keyed by the stable <see cref="VideoBackbone.Name"/> that zips store.</summary>
public static class VideoBackbones
{
    /// <summary>The paper's Two-Stream I3D (Table 1 (e)).</summary>
    public static VideoBackbone InceptionI3d { get; } = new InceptionI3dBackbone();

    /// <summary>An inflated ResNet-18 (not in the paper).</summary>
    public static VideoBackbone ResNet18 { get; } = new ResNet3d18Backbone();

    /// <summary>The paper's 3D-ConvNet (Table 1 (b)).</summary>
    public static VideoBackbone C3D { get; } = new C3DBackbone();

    /// <summary>The paper's ConvNet+LSTM (Table 1 (a)).</summary>
    public static VideoBackbone ConvNetLstm { get; } = new ConvNetLstmBackbone();

    /// <summary>The paper's 2-D Two-Stream network (Table 1 (c)).</summary>
    public static VideoBackbone TwoStream2d { get; } = new TwoStream2dBackbone();

    /// <summary>The paper's 3D-Fused Two-Stream network (Table 1 (d)): RGB and flow in one network.</summary>
    public static VideoBackbone Fused3dTwoStream { get; } = new Fused3dTwoStreamBackbone();

    /// <summary>ConvNet+LSTM with a ResNet-18 per frame (ImageNet from ResNet18.onnx; not in the paper).</summary>
    public static VideoBackbone ConvNetLstmResNet18 { get; } = new ConvNetLstmBackbone(TowerKind.ResNet18);

    /// <summary>The 2-D Two-Stream network with ResNet-18 towers (ImageNet from ResNet18.onnx; not in the paper).</summary>
    public static VideoBackbone TwoStream2dResNet18 { get; } = new TwoStream2dBackbone(TowerKind.ResNet18);

    /// <summary>The 3D-Fused Two-Stream network with ResNet-18 towers (ImageNet from ResNet18.onnx; not in the paper).</summary>
    public static VideoBackbone Fused3dTwoStreamResNet18 { get; } = new Fused3dTwoStreamBackbone(TowerKind.ResNet18);

    /// <summary>The paper's five architectures (Table 1), I3D first.</summary>
    public static IReadOnlyList<VideoBackbone> Paper { get; } = [InceptionI3d, ConvNetLstm, C3D, TwoStream2d, Fused3dTwoStream];

    /// <summary>Every architecture: the paper's five, then the ResNet-18 ones.</summary>
    public static IReadOnlyList<VideoBackbone> All { get; } = [.. Paper, ResNet18, ConvNetLstmResNet18, TwoStream2dResNet18, Fused3dTwoStreamResNet18];

    /// <summary>The architecture named <paramref name="name"/> (its <see cref="VideoBackbone.Name"/> or <see cref="VideoBackbone.CliName"/>, any case).</summary>
    /// <exception cref="ArgumentException">No architecture has that name; the message lists those that exist.</exception>
    public static VideoBackbone Get(string? name)
        => Find(name) ?? throw new ArgumentException($"unknown architecture '{name}' (known: {Known})");

    /// <summary>The architecture a model zip or checkpoint names; a name of no architecture (a newer release's, or damage) is one line naming it.</summary>
    internal static VideoBackbone FromFile(string? name, string where)
        => Find(name) ?? throw new InvalidDataException($"{where} names the architecture '{name}', which this release does not have (known: {Known})");

    private static VideoBackbone? Find(string? name)
        => name is null ? null : All.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase) || string.Equals(b.CliName, name, StringComparison.OrdinalIgnoreCase));

    private static string Known => string.Join(", ", All.Select(b => b.Name));
}
