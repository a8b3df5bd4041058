using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>What decides a <see cref="SyntheticActions"/> class.</summary>
internal enum SyntheticEvidence
{
    /// <summary>The object does not change; its shape is the class.</summary>
    Still,
    /// <summary>The object moves along <see cref="SyntheticActionClass.Direction"/>.</summary>
    Move,
    /// <summary>The object's size goes from small to large.</summary>
    Grow,
    /// <summary>The object's opacity goes from 0 to 1.</summary>
    Fade,
    /// <summary>The object turns clockwise on screen.</summary>
    Turn,
}

/// <summary>The object shapes of <see cref="SyntheticActions"/>.</summary>
internal enum SyntheticShape
{
    /// <summary>A disc (only its texture shows the angle).</summary>
    Disc,
    /// <summary>A square.</summary>
    Square,
    /// <summary>A plus-shaped cross, arms a third of its side wide.</summary>
    Cross,
}

/// <summary>One class of <see cref="SyntheticActions"/>: its name, family and evidence.</summary>
/// <param name="Name">The folder name.</param>
/// <param name="Family">The family name (a key of <see cref="SyntheticActions.Families"/>).</param>
/// <param name="Evidence">What changes over the clip.</param>
/// <param name="Shape">The object's shape when the class fixes it (appearance classes); otherwise random.</param>
/// <param name="Direction">Unit direction of the motion on screen (x right, y down), for <see cref="SyntheticEvidence.Move"/>.</param>
/// <param name="Reversed">The video is the time reversal of a video of the same evidence (shrink is a reversed grow,
/// vanish a reversed appear, anticlockwise a reversed clockwise turn).</param>
internal sealed record SyntheticActionClass(string Name, string Family, SyntheticEvidence Evidence, SyntheticShape? Shape = null,
    Point2d Direction = default, bool Reversed = false);

/// <summary>A moving distractor blob: linear motion plus a sinusoidal wobble, bouncing off the frame's edges.</summary>
internal sealed record SyntheticDistractor(Scalar Colour, double Radius, Point2d Start, Point2d Velocity, Point2d Wobble, double Frequency, double Phase);

/// <summary>The object's state in one frame.</summary>
/// <param name="Centre">Centre in pixels.</param>
/// <param name="Side">Side of the shape's bounding square in pixels (disc: diameter).</param>
/// <param name="Angle">Rotation in degrees, clockwise on screen.</param>
/// <param name="Alpha">Opacity 0..1.</param>
internal readonly record struct SyntheticObjectPose(Point2d Centre, double Side, double Angle, double Alpha);

/// <summary>
/// Every random choice of one <see cref="SyntheticActions"/> video, and where everything is at frame t. Every class
/// draws the same quantities in the same order from the same distributions (textures, colours, position, sizes, speeds,
/// background pan, distractors); the class only decides which of them change over the clip, so the family's evidence
/// is the only cue (the benchmark's issue). Reversed classes are the same scene played backwards: a <c>shrink</c>
/// video is exactly a time-reversed <c>grow</c> video of the same draw, so no single frame and no unordered set of
/// frames separates them.
/// </summary>
internal sealed class SyntheticActionScene : IDisposable
{
    /// <summary>Largest object side as a fraction of the frame (the end of <c>grow</c>).</summary>
    internal const double MaxSideFraction = 0.42;

    private SyntheticActionScene(int size, int frames, Mat background, Mat objectTexture, Mat objectMask)
    {
        Size = size;
        Frames = frames;
        Background = background;
        ObjectTexture = objectTexture;
        ObjectMask = objectMask;
    }

    /// <summary>Frame height and width.</summary>
    public int Size { get; }
    /// <summary>Frames in the clip.</summary>
    public int Frames { get; }
    /// <summary>Background texture, twice the frame size; the frame is a panning window on it.</summary>
    public Mat Background { get; }
    /// <summary>Background window's top-left corner at time 0.</summary>
    public Point2d BackgroundOrigin { get; private init; }
    /// <summary>Background pan in pixels per frame (the window moves this way, the texture the other way).</summary>
    public Point2d BackgroundVelocity { get; private init; }
    /// <summary>The object's texture (tinted by its colour), <see cref="PatchSide"/> square.</summary>
    public Mat ObjectTexture { get; }
    /// <summary>The shape's mask (0/255, anti-aliased) at side <see cref="MaxSide"/>, centred in the patch.</summary>
    public Mat ObjectMask { get; }
    /// <summary>The object's shape.</summary>
    public SyntheticShape Shape { get; private init; }
    /// <summary>Side of the shape drawn in <see cref="ObjectMask"/>: poses scale it by <c>Side / MaxSide</c>.</summary>
    public double MaxSide { get; private init; }
    /// <summary>Side of the object patch in pixels.</summary>
    public int PatchSide => ObjectTexture.Rows;
    /// <summary>The object's mean position over the clip.</summary>
    public Point2d Centre { get; private init; }
    /// <summary>The object's displacement from the first to the last frame (zero unless it moves).</summary>
    public Point2d Travel { get; private init; }
    /// <summary>Side at the start and the end of the ramp.</summary>
    public (double Start, double End) Side { get; private init; }
    /// <summary>Opacity at the start and the end of the ramp.</summary>
    public (double Start, double End) Alpha { get; private init; }
    /// <summary>Angle (degrees, clockwise) at mid-clip.</summary>
    public double Angle { get; private init; }
    /// <summary>Rotation over the clip in degrees, clockwise (zero unless it turns).</summary>
    public double Turn { get; private init; }
    /// <summary>Where in the clip (0..1) the size or opacity ramp starts and ends.</summary>
    public (double Start, double End) Ramp { get; private init; }
    /// <summary>Frames are played backwards.</summary>
    public bool Reversed { get; private init; }
    /// <summary>The 1-2 distractor blobs.</summary>
    public IReadOnlyList<SyntheticDistractor> Distractors { get; private init; } = [];

    /// <summary>Draws a scene of class <paramref name="actionClass"/>.</summary>
    public static SyntheticActionScene Draw(SyntheticActionClass actionClass, int size, int frames, Random random)
    {
        double U(double lo, double hi) => lo + (hi - lo) * random.NextDouble();

        // Background: a low-contrast window on a larger texture that pans slowly in a random direction in every class,
        // so that "something moves" is no cue.
        var background = SyntheticTexture.Create(size * 2, random);
        background.ConvertTo(background, -1, 0.6, 40);
        var origin = new Point2d(U(0.25, 0.75) * size, U(0.25, 0.75) * size);
        double panAngle = U(0, 2 * Math.PI), panSpeed = U(0.003, 0.006) * size; // 0.3-0.7 px per frame at 112
        // The object: texture tinted by a random colour, shape random (fixed by the class for appearance classes).
        double maxSide = MaxSideFraction * size;
        int patch = (int)Math.Ceiling(maxSide) + 4;
        var texture = SyntheticTexture.Create(patch, random);
        SyntheticTexture.Tint(texture, SyntheticTexture.Colour(random), 0.55);
        var shape = (SyntheticShape)random.Next(3);
        double angle = U(0, 360);
        var centre = new Point2d(U(0.32, 0.68) * size, U(0.32, 0.68) * size);
        double side = U(0.2, 0.36) * size, small = U(0.15, 0.2) * size, large = U(0.36, MaxSideFraction) * size;
        double travel = U(0.3, 0.45) * size;   // over the whole clip, whatever its length
        double turn = U(120, 200);              // degrees over the clip
        var ramp = (U(0, 0.15), U(0.85, 1));
        int distractorCount = 1 + random.Next(2);
        var distractors = new SyntheticDistractor[2];
        for (int i = 0; i < distractors.Length; i++)
        {
            double direction = U(0, 2 * Math.PI), speed = U(0.006, 0.015) * size;
            distractors[i] = new SyntheticDistractor(SyntheticTexture.Colour(random), U(0.03, 0.05) * size,
                new Point2d(U(0.1, 0.9) * size, U(0.1, 0.9) * size), new Point2d(speed * Math.Cos(direction), speed * Math.Sin(direction)),
                new Point2d(U(0, 0.04) * size, U(0, 0.04) * size), U(0.1, 0.3), U(0, 2 * Math.PI));
        }

        shape = actionClass.Shape ?? shape;
        var evidence = actionClass.Evidence;
        var mask = new Mat(patch, patch, MatType.CV_8UC1, Scalar.All(0));
        DrawShape(mask, shape, maxSide);
        return new SyntheticActionScene(size, frames, background, texture, mask)
        {
            BackgroundOrigin = origin,
            BackgroundVelocity = new Point2d(panSpeed * Math.Cos(panAngle), panSpeed * Math.Sin(panAngle)),
            Shape = shape,
            MaxSide = maxSide,
            Centre = centre,
            Travel = evidence == SyntheticEvidence.Move ? actionClass.Direction * travel : default,
            Side = evidence == SyntheticEvidence.Grow ? (small, large) : (side, side),
            Alpha = evidence == SyntheticEvidence.Fade ? (0, 1) : (1, 1),
            Angle = angle,
            Turn = evidence == SyntheticEvidence.Turn ? turn : 0,
            Ramp = ramp,
            Reversed = actionClass.Reversed,
            Distractors = distractors[..distractorCount],
        };
    }

    /// <summary>Time in the drawn scene (0..1) of frame <paramref name="t"/>: reversed scenes run backwards.</summary>
    private double Time(int t) => (Reversed ? Frames - 1 - t : t) / (double)Math.Max(1, Frames - 1);

    /// <summary>The drawn scene's frame index of frame <paramref name="t"/>.</summary>
    private int Step(int t) => Reversed ? Frames - 1 - t : t;

    /// <summary>The object at frame <paramref name="t"/>.</summary>
    public SyntheticObjectPose Object(int t)
    {
        double s = Time(t);
        double p = Math.Clamp((s - Ramp.Start) / (Ramp.End - Ramp.Start), 0, 1);
        return new SyntheticObjectPose(Centre + Travel * (s - 0.5), Side.Start + (Side.End - Side.Start) * p,
            Angle + Turn * (s - 0.5), Alpha.Start + (Alpha.End - Alpha.Start) * p);
    }

    /// <summary>The background window's top-left corner at frame <paramref name="t"/>.</summary>
    public Point2d BackgroundOffset(int t) => BackgroundOrigin + BackgroundVelocity * Step(t);

    /// <summary>Where distractor <paramref name="i"/> is at frame <paramref name="t"/>.</summary>
    public Point2d DistractorCentre(int i, int t)
    {
        var d = Distractors[i];
        int u = Step(t);
        double wobble = Math.Sin(d.Frequency * u + d.Phase);
        return new Point2d(Bounce(d.Start.X + d.Velocity.X * u + d.Wobble.X * wobble, d.Radius, Size - d.Radius),
            Bounce(d.Start.Y + d.Velocity.Y * u + d.Wobble.Y * wobble, d.Radius, Size - d.Radius));
    }

    /// <summary>Folds <paramref name="x"/> into [lo, hi] as a ball bouncing between two walls.</summary>
    private static double Bounce(double x, double lo, double hi)
    {
        double span = hi - lo, v = (x - lo) % (2 * span);
        if (v < 0) v += 2 * span;
        return lo + (v <= span ? v : 2 * span - v);
    }

    /// <summary>Draws the shape (anti-aliased, sub-pixel) centred in <paramref name="mask"/>.</summary>
    private static void DrawShape(Mat mask, SyntheticShape shape, double side)
    {
        const int shift = 4, one = 1 << shift;
        double c = (mask.Rows - 1) / 2.0, h = side / 2;
        Point P(double x, double y) => new((int)Math.Round(x * one), (int)Math.Round(y * one));
        void Box(double halfW, double halfH) =>
            Cv2.FillConvexPoly(mask, [P(c - halfW, c - halfH), P(c + halfW, c - halfH), P(c + halfW, c + halfH), P(c - halfW, c + halfH)], Scalar.All(255), LineTypes.AntiAlias, shift);
        switch (shape)
        {
            case SyntheticShape.Disc:
                Cv2.Circle(mask, P(c, c), (int)Math.Round(h * one), Scalar.All(255), -1, LineTypes.AntiAlias, shift);
                break;
            case SyntheticShape.Square:
                Box(h, h);
                break;
            case SyntheticShape.Cross:
                Box(h, h / 3);
                Box(h / 3, h);
                break;
        }
    }

    /// <summary>Frees the textures.</summary>
    public void Dispose()
    {
        Background.Dispose();
        ObjectTexture.Dispose();
        ObjectMask.Dispose();
    }
}
