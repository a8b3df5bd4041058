using System.CommandLine;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d convert CKPT --out X.pt</c>: a kinetics-i3d TensorFlow checkpoint (or any weight file the tool reads) as a
/// pytorch-i3d state_dict, which <c>torch.load</c> + pytorch-i3d's <c>InceptionI3d.load_state_dict</c> take.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("CKPT") { Description = "A kinetics-i3d TensorFlow checkpoint: its prefix (data/checkpoints/rgb_imagenet/model.ckpt), its .index file or its folder" };
        var output = new Option<string>("--out") { Description = "The .pt file to write (a torch.save zip archive of pytorch-i3d's state_dict)", Required = true };
        var command = new Command("convert", "Convert I3D weights (a DeepMind TensorFlow checkpoint) into a pytorch-i3d state_dict (.pt)") { input, output };
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            Console.WriteLine(Convert(parse.GetValue(input)!, parse.GetValue(output)!));
            return 0;
        }));
        return command;
    }

    /// <summary>Loads the weights strictly into an <see cref="InceptionI3d"/> and saves its state_dict; returns a one-line summary.</summary>
    public static string Convert(string input, string output)
    {
        using var net = ModuleWeights.LoadInceptionI3d(input);
        ModuleWeights.Save(net, output);
        return $"{output}: InceptionI3d, {InceptionI3d.StreamName(net.InChannels)} ({net.InChannels} channels), {net.NumClasses} classes, from {input}";
    }
}
