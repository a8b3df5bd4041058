using I3D.MLNet.IO;
using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>Writes a synthetic dataset's video: a square MJPEG AVI, frame by frame, through <see cref="AtomicFile"/>.</summary>
internal static class SyntheticVideoFile
{
    /// <summary>
    /// Writes <paramref name="frames"/> frames of <paramref name="size"/> x <paramref name="size"/> pixels, each drawn by
    /// <paramref name="render"/> (frame index, BGR frame to fill). OpenCV's writer does not report a failed write (a full
    /// disk), so the file is opened again and its frame count checked before it replaces <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, double fps, int size, int frames, Action<int, Mat> render)
    {
        AtomicFile.WriteThrough(path, temporary =>
        {
            using (var writer = new VideoWriter(temporary, FourCC.MJPG, fps, new Size(size, size)))
            {
                if (!writer.IsOpened()) throw new IOException($"{path}: cannot write an MJPEG AVI here");
                using var frame = new Mat(size, size, MatType.CV_8UC3);
                for (int t = 0; t < frames; t++)
                {
                    render(t, frame);
                    writer.Write(frame);
                }
            }
            using var check = new VideoCapture(temporary);
            int written = check.IsOpened() ? check.FrameCount : 0;
            if (written != frames) throw new IOException($"{path}: OpenCV wrote {written} of {frames} frames");
        });
    }
}
