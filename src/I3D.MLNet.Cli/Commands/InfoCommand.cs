using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using I3D.MLNet.Video;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d info VIDEO... [--json]</c>: container, codec, size, rate and the number of frames that really decode.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var videos = new Argument<string[]>("video") { Description = "Video files", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {\"videos\":[...]} on stdout" };
        var command = new Command("info", "Describe video files (frames are counted by decoding them)") { videos, json };
        command.SetAction(parse => CliRunner.Run(parse, () => Run(parse.GetValue(videos)!, parse.GetValue(json))));
        return command;
    }

    private static int Run(string[] paths, bool json)
    {
        var infos = new List<VideoInfo>();
        using (var progress = new ConsoleProgress())
        {
            for (int i = 0; i < paths.Length; i++)
            {
                progress.Report((i, paths.Length, paths[i]));
                infos.Add(VideoDecoder.Probe(paths[i]));
            }
        }
        if (json)
        {
            var payload = new
            {
                videos = infos.Select(v => new
                {
                    path = v.Path,
                    container = v.Container,
                    codec = v.Codec,
                    width = v.Width,
                    height = v.Height,
                    fps = Math.Round(v.FramesPerSecond, 6),
                    frames = v.Frames,
                    duration = v.DurationSeconds,
                    decoder = DecoderName(v.Decoder),
                }),
            };
            Console.WriteLine(JsonSerializer.Serialize(payload));
        }
        else
        {
            foreach (var v in infos)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{v.Path}: {v.Container}, {v.Codec}, {v.Width}x{v.Height}, {v.FramesPerSecond:0.###} fps, {v.Frames} frames, {v.DurationSeconds:0.###} s (decoded with {DecoderName(v.Decoder)})"));
        }
        return 0;
    }

    /// <summary>"ffmpeg" (the system's libraries) or "opencv" (OpenCV's bundled FFmpeg), as I3D_VIDEO_DECODER spells them.</summary>
    private static string DecoderName(VideoDecoderBackend backend) => backend.ToString().ToLowerInvariant();
}
