using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>
/// Draws the frames of a <see cref="SyntheticActionScene"/>: the panning background, the object (textured, scaled,
/// turned and blended by its opacity) and the distractor blobs on top. Also draws the object's and the distractors'
/// masks, which the tests use to measure what each class changes. Holds its work buffers: one renderer per thread.
/// </summary>
internal sealed class SyntheticActionRenderer : IDisposable
{
    private const int Shift = 4;
    private readonly Mat _layer = new(), _mask = new();

    /// <summary>Draws frame <paramref name="t"/> of <paramref name="scene"/> into <paramref name="frame"/> (8-bit BGR, the scene's size).</summary>
    public void Render(SyntheticActionScene scene, int t, Mat frame)
    {
        var size = new Size(scene.Size, scene.Size);
        var offset = scene.BackgroundOffset(t);
        using (var pan = Translation(-offset.X, -offset.Y))
            Cv2.WarpAffine(scene.Background, frame, pan, size, InterpolationFlags.Linear, BorderTypes.Reflect101);

        var pose = scene.Object(t);
        using (var placement = Placement(scene, pose))
        {
            Cv2.WarpAffine(scene.ObjectTexture, _layer, placement, size, InterpolationFlags.Linear, BorderTypes.Reflect101);
            Cv2.WarpAffine(scene.ObjectMask, _mask, placement, size, InterpolationFlags.Linear, BorderTypes.Constant, Scalar.All(0));
        }
        Blend(frame, _layer, _mask, pose.Alpha);

        for (int i = 0; i < scene.Distractors.Count; i++)
            DrawDistractor(frame, scene, i, t, scene.Distractors[i].Colour);
    }

    /// <summary>The object's coverage at frame <paramref name="t"/> (8-bit, 255 inside, opacity not applied).</summary>
    public void ObjectMask(SyntheticActionScene scene, int t, Mat mask)
    {
        using var placement = Placement(scene, scene.Object(t));
        Cv2.WarpAffine(scene.ObjectMask, mask, placement, new Size(scene.Size, scene.Size), InterpolationFlags.Linear, BorderTypes.Constant, Scalar.All(0));
    }

    /// <summary>The distractors' coverage at frame <paramref name="t"/> (8-bit, 255 inside).</summary>
    public static void DistractorMask(SyntheticActionScene scene, int t, Mat mask)
    {
        mask.Create(scene.Size, scene.Size, MatType.CV_8UC1);
        mask.SetTo(Scalar.All(0));
        for (int i = 0; i < scene.Distractors.Count; i++) DrawDistractor(mask, scene, i, t, Scalar.All(255));
    }

    private static void DrawDistractor(Mat target, SyntheticActionScene scene, int i, int t, Scalar colour)
    {
        var c = scene.DistractorCentre(i, t);
        Cv2.Circle(target, new Point((int)Math.Round(c.X * (1 << Shift)), (int)Math.Round(c.Y * (1 << Shift))),
            (int)Math.Round(scene.Distractors[i].Radius * (1 << Shift)), colour, -1, LineTypes.AntiAlias, Shift);
    }

    private static Mat Translation(double dx, double dy)
    {
        var m = new Mat(2, 3, MatType.CV_64FC1);
        m.Set(0, 0, 1.0); m.Set(0, 1, 0.0); m.Set(0, 2, dx);
        m.Set(1, 0, 0.0); m.Set(1, 1, 1.0); m.Set(1, 2, dy);
        return m;
    }

    /// <summary>Patch to frame: scale by Side / MaxSide, turn by the angle (clockwise on screen, y down), move the
    /// patch centre to the pose's centre.</summary>
    private static Mat Placement(SyntheticActionScene scene, SyntheticObjectPose pose)
    {
        double scale = pose.Side / scene.MaxSide, a = pose.Angle * Math.PI / 180;
        double cos = scale * Math.Cos(a), sin = scale * Math.Sin(a), pc = (scene.PatchSide - 1) / 2.0;
        var m = new Mat(2, 3, MatType.CV_64FC1);
        m.Set(0, 0, cos); m.Set(0, 1, -sin); m.Set(0, 2, pose.Centre.X - (cos * pc - sin * pc));
        m.Set(1, 0, sin); m.Set(1, 1, cos); m.Set(1, 2, pose.Centre.Y - (sin * pc + cos * pc));
        return m;
    }

    /// <summary><c>frame += (layer - frame) * mask / 255 * alpha</c>, in integers (the same bytes on every machine).</summary>
    private static unsafe void Blend(Mat frame, Mat layer, Mat mask, double alpha)
    {
        const int full = 255 * 256;
        int a = (int)Math.Round(Math.Clamp(alpha, 0, 1) * 256);
        if (a == 0) return;
        int n = frame.Rows * frame.Cols;
        byte* f = (byte*)frame.Data, l = (byte*)layer.Data, m = (byte*)mask.Data;
        for (int i = 0; i < n; i++)
        {
            int w = m[i] * a;
            if (w == 0) continue;
            for (int c = 3 * i; c < 3 * i + 3; c++) f[c] = (byte)((f[c] * (full - w) + l[c] * w + full / 2) / full);
        }
    }

    /// <summary>Frees the work buffers.</summary>
    public void Dispose()
    {
        _layer.Dispose();
        _mask.Dispose();
    }
}
