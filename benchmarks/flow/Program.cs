// Optical-flow harness.
//   bench VIDEO PAIRS THREADS            ms per 224x224 pair for each algorithm (same frames, same process)
//   dump VIDEO FRAMES SIDE OUT_PREFIX    writes OUT_PREFIX.rgb.npy (T,H,W,3) and OUT_PREFIX.<algorithm>.npy raw flow (T-1,H,W,2)
using System.Diagnostics;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using OpenCvSharp;

static VideoFrames Load(string path, int frames, int? side)
{
    using var decoder = VideoDecoder.Open(path);
    var rgb = new VideoFrames();
    decoder.Decode(new VideoDecodeOptions { MaximumFrames = frames, ShorterSide = side }, rgb);
    return rgb;
}

static VideoFrames CentreCrop(VideoFrames rgb, int size)
{
    var crop = new VideoFrames(FrameElementKind.Rgb24, rgb.FrameCount, size, size) { FramesPerSecond = rgb.FramesPerSecond, Source = rgb.Source };
    int y0 = (rgb.Height - size) / 2, x0 = (rgb.Width - size) / 2;
    for (int t = 0; t < rgb.FrameCount; t++)
    for (int y = 0; y < size; y++)
        rgb.FrameBytes(t).Slice(((y0 + y) * rgb.Width + x0) * 3, size * 3).CopyTo(crop.FrameBytes(t).Slice(y * size * 3, size * 3));
    return crop;
}

switch (args[0])
{
    case "bench":
    {
        int pairs = int.Parse(args[2]), threads = int.Parse(args[3]);
        var rgb = CentreCrop(Load(args[1], pairs + 1, 256), 224);
        Console.WriteLine($"{rgb}; {pairs} pairs; {threads} threads");
        var results = new List<(string, double)>();
        foreach (var (name, algorithm, opencvThreads, pairThreads) in new[]
                 {
                     ("tvl1 (ours, pairs in parallel)", FlowAlgorithm.TvL1, 1, threads),
                     ("tvl1-opencv (OpenCV threads, pairs one by one)", FlowAlgorithm.TvL1OpenCv, threads, 1),
                     ("tvl1-opencv (1 OpenCV thread, pairs in parallel)", FlowAlgorithm.TvL1OpenCv, 1, threads),
                     ("farneback (OpenCV threads, pairs one by one)", FlowAlgorithm.Farneback, threads, 1),
                     ("farneback (1 OpenCV thread, pairs in parallel)", FlowAlgorithm.Farneback, 1, threads),
                 })
        {
            Cv2.SetNumThreads(opencvThreads);
            var options = new FlowOptions { Algorithm = algorithm, MaxDegreeOfParallelism = pairThreads };
            var warm = new VideoFrames(FrameElementKind.Rgb24, 2, 224, 224);
            rgb.Bytes[..warm.Bytes.Length].CopyTo(warm.Bytes);
            OpticalFlow.ComputeRaw(warm, options);
            var watch = Stopwatch.StartNew();
            OpticalFlow.ComputeRaw(rgb, options);
            double ms = watch.Elapsed.TotalMilliseconds / pairs;
            results.Add((name, ms));
            Console.WriteLine($"{name,-52} {ms,8:0.0} ms/pair");
        }
        break;
    }
    case "dump":
    {
        int frames = int.Parse(args[2]);
        var rgb = Load(args[1], frames, int.Parse(args[3]));
        var values = new float[rgb.Bytes.Length];
        for (int i = 0; i < values.Length; i++) values[i] = rgb.Bytes[i];
        Npy.Write(args[4] + ".rgb.npy", values, rgb.FrameCount, rgb.Height, rgb.Width, 3);
        foreach (var algorithm in new[] { FlowAlgorithm.TvL1, FlowAlgorithm.TvL1OpenCv })
        {
            var watch = Stopwatch.StartNew();
            var raw = OpticalFlow.ComputeRaw(rgb, new FlowOptions { Algorithm = algorithm });
            Console.WriteLine($"{algorithm}: {watch.Elapsed.TotalMilliseconds / (rgb.FrameCount - 1):0.0} ms/pair");
            Npy.Write($"{args[4]}.{algorithm}.npy", raw, rgb.FrameCount - 1, rgb.Height, rgb.Width, 2);
        }
        break;
    }
    default:
        Console.Error.WriteLine("usage: bench VIDEO PAIRS THREADS | dump VIDEO FRAMES SIDE OUT_PREFIX");
        return 2;
}
return 0;
