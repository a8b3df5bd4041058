using System.CommandLine;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using OpenCvSharp;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d flow VIDEO --out flow.npy</c>: optical flow of a video, float32 (T, H, W, 2) in [-1, 1] after the paper's
/// preprocessing, or with <c>--raw</c> (T-1, H, W, 2) displacements in pixels; <c>--png DIR</c> writes colour-coded frames.
/// </summary>
internal static class FlowCommand
{
    public static Command Create()
    {
        var video = new Argument<string>("video") { Description = "A video file" };
        var output = new Option<string?>("--out") { Description = "Output .npy file: float32 (T, H, W, 2) in [-1, 1], or (T-1, H, W, 2) pixels with --raw" };
        var algorithm = CliOptions.FlowAlgorithm();
        var raw = new Option<bool>("--raw") { Description = "Write the displacements in pixels (x then y) from frame t to t+1, nothing truncated: (T-1, H, W, 2)" };
        var fps = new Option<double>("--fps") { Description = "Frame rate to resample to; 0 keeps the native rate", DefaultValueFactory = _ => 25 };
        var size = new Option<int>("--shorter-side") { Description = "Resize the shorter side to this; 0 keeps the size", DefaultValueFactory = _ => 256 };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Flow cache directory (reused across runs; not used with --raw)" };
        var quantize = new Option<bool>("--quantize") { Description = "8-bit flow as the official Kinetics data (256 levels over [-20, 20] px)" };
        var maxFrames = new Option<int?>("--max-frames") { Description = "Use at most this many frames from the start" };
        var png = new Option<string?>("--png") { Description = "Also write colour-coded flow images (Middlebury colour wheel) into this directory" };
        var command = new Command("flow", "Optical flow of a video (TV-L1 by default) into a .npy file and/or colour-coded PNGs") { video, output };
        command.AddRenamed(algorithm, "--algorithm");
        command.Options.Add(raw);
        command.Options.Add(fps);
        command.AddRenamed(size, "--size");
        command.Options.Add(cacheDir);
        command.Options.Add(quantize);
        command.AddRenamed(maxFrames, "--frames");
        command.Options.Add(png);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string? outPath = parse.GetValue(output), pngDir = parse.GetValue(png);
            if (outPath is null && pngDir is null) throw new ArgumentException("give --out FILE.npy and/or --png DIR");
            double rate = parse.GetValue(fps);
            int side = parse.Value(size);
            if (rate < 0) throw new ArgumentException($"--fps must be >= 0, not {rate}");
            if (side < 0) throw new ArgumentException($"--shorter-side must be >= 0, not {side}");
            int? limit = parse.Value(maxFrames);
            if (limit is < 1) throw new ArgumentException($"--max-frames must be >= 1, not {limit}");
            var options = new FlowOptions
            {
                Algorithm = algorithm.Read(parse),
                Quantize = parse.GetValue(quantize),
                CacheDirectory = parse.GetValue(cacheDir),
            };
            string path = parse.GetValue(video)!;
            var rgb = new VideoFrames();
            using (var decoder = VideoDecoder.Open(path))
                decoder.Decode(new VideoDecodeOptions { FrameRate = rate > 0 ? rate : null, ShorterSide = side > 0 ? side : null, MaximumFrames = limit }, rgb);

            float[] pixels; // what the PNGs show, in pixels
            int pngFrames;
            if (parse.GetValue(raw))
            {
                pixels = OpticalFlow.ComputeRaw(rgb, options with { CacheDirectory = null });
                pngFrames = rgb.FrameCount - 1;
                if (outPath is not null) Npy.Write(outPath, pixels, pngFrames, rgb.Height, rgb.Width, 2);
            }
            else
            {
                var flow = OpticalFlow.Compute(rgb, options);
                // A cache entry that could not be written (a full disk) costs a recomputation next time, nothing more: said, not fatal.
                if (options.CacheDirectory is { } cache && FlowCache.Open(cache).TakeWriteFailureReport() is { } failure)
                    Console.Error.WriteLine($"i3d: warning: {failure}");
                if (outPath is not null) Npy.Write(outPath, flow.Floats, flow.FrameCount, flow.Height, flow.Width, 2);
                pixels = new float[flow.Floats.Length];
                for (int i = 0; i < pixels.Length; i++) pixels[i] = flow.Floats[i] * (float)options.Bound;
                pngFrames = flow.FrameCount;
            }
            if (pngDir is not null) WritePngs(pngDir, pixels, pngFrames, rgb.Height, rgb.Width);
            return 0;
        }));
        return command;
    }

    private static void WritePngs(string directory, float[] pixels, int frames, int height, int width)
    {
        Directory.CreateDirectory(directory);
        float max = Math.Max(1f, FlowColor.MaximumRadius(pixels));
        int length = height * width * 2;
        var rgb = new byte[height * width * 3];
        using var image = new Mat(height, width, MatType.CV_8UC3);
        for (int t = 0; t < frames; t++)
        {
            FlowColor.ToRgb(pixels.AsSpan(t * length, length), max, rgb);
            for (int i = 0; i < rgb.Length; i += 3) (rgb[i], rgb[i + 2]) = (rgb[i + 2], rgb[i]); // OpenCV writes BGR
            System.Runtime.InteropServices.Marshal.Copy(rgb, 0, image.Data, rgb.Length);
            string file = Path.Combine(directory, $"flow_{t:D5}.png");
            if (!Cv2.ImWrite(file, image)) throw new IOException($"{file}: could not write the PNG");
        }
    }
}
