using System.Globalization;

namespace I3D.MLNet.Flow;

/// <summary>Which dense optical-flow algorithm computes the flow.</summary>
public enum FlowAlgorithm
{
    /// <summary>TV-L1 (Zach, Pock, Bischof 2007) as OpenCV's <c>DualTVL1OpticalFlow</c> computes it, reimplemented here:
    /// vectorised (AVX-512 where available) and run on several frame pairs at once. The default.</summary>
    TvL1,

    /// <summary>OpenCV's own <c>DualTVL1OpticalFlow</c> (superres module, called through its native entry point): the reference.</summary>
    TvL1OpenCv,

    /// <summary>OpenCV's Farneback (pyramid scale 0.5, 3 levels, window 15, 3 iterations, poly_n 5, sigma 1.2): fast and coarse.</summary>
    Farneback,
}

/// <summary>
/// TV-L1 parameters. The defaults are those of OpenCV's <c>cv::optflow::DualTVL1OpticalFlow::create()</c>, i.e. what Python
/// users of <c>cv2.optflow.DualTVL1OpticalFlow_create()</c> get.
/// </summary>
public sealed record TvL1Parameters
{
    /// <summary>Time step of the dual (numerical) scheme. Default 0.25.</summary>
    public double Tau { get; init; } = 0.25;

    /// <summary>Weight of the data term (smaller: smoother flow). Default 0.15.</summary>
    public double Lambda { get; init; } = 0.15;

    /// <summary>Coupling between the two variables of the splitting. Default 0.3.</summary>
    public double Theta { get; init; } = 0.3;

    /// <summary>Pyramid levels (fewer when a level would be smaller than 16 pixels). Default 5.</summary>
    public int Scales { get; init; } = 5;

    /// <summary>Size ratio between pyramid levels. Default 0.8.</summary>
    public double ScaleStep { get; init; } = 0.8;

    /// <summary>Warps (re-linearisations of the data term) per level. Default 5.</summary>
    public int Warps { get; init; } = 5;

    /// <summary>Stopping threshold: iterate while the sum over pixels of the squared flow update exceeds epsilon^2 x pixels. Default 0.01.</summary>
    public double Epsilon { get; init; } = 0.01;

    /// <summary>Inner (primal-dual) iterations per outer iteration. Default 30.</summary>
    public int InnerIterations { get; init; } = 30;

    /// <summary>Outer iterations (each starts with a median filter of the flow) per warp. Default 10.</summary>
    public int OuterIterations { get; init; } = 10;

    /// <summary>Median filter size applied to the flow at each outer iteration: 1 (off), 3 or 5. Default 5.</summary>
    public int MedianFiltering { get; init; } = 5;

    internal void Validate()
    {
        static void Positive(double v, string name)
        {
            if (!(v > 0) || double.IsInfinity(v)) throw new ArgumentOutOfRangeException(name, v, $"{name} must be a finite number > 0");
        }

        Positive(Tau, nameof(Tau));
        Positive(Lambda, nameof(Lambda));
        Positive(Theta, nameof(Theta));
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "Epsilon must be a finite number >= 0");
        if (!(ScaleStep > 0 && ScaleStep < 1)) throw new ArgumentOutOfRangeException(nameof(ScaleStep), ScaleStep, "ScaleStep must be in (0, 1)");
        if (Scales is < 1 or > 50) throw new ArgumentOutOfRangeException(nameof(Scales), Scales, "Scales must be 1..50");
        if (Warps is < 1 or > 1000) throw new ArgumentOutOfRangeException(nameof(Warps), Warps, "Warps must be 1..1000");
        if (InnerIterations is < 1 or > 100000) throw new ArgumentOutOfRangeException(nameof(InnerIterations), InnerIterations, "InnerIterations must be 1..100000");
        if (OuterIterations is < 1 or > 100000) throw new ArgumentOutOfRangeException(nameof(OuterIterations), OuterIterations, "OuterIterations must be 1..100000");
        if (MedianFiltering is not (1 or 3 or 5)) throw new ArgumentOutOfRangeException(nameof(MedianFiltering), MedianFiltering, "MedianFiltering must be 1 (off), 3 or 5 (OpenCV supports only these on float flow)");
    }

    /// <summary>A canonical text of every parameter (part of the cache key).</summary>
    internal string CanonicalText() => string.Create(CultureInfo.InvariantCulture,
        $"tau={Tau:R};lambda={Lambda:R};theta={Theta:R};scales={Scales};step={ScaleStep:R};warps={Warps};eps={Epsilon:R};inner={InnerIterations};outer={OuterIterations};median={MedianFiltering}");
}

/// <summary>How optical flow is computed from RGB frames and encoded (the paper's preprocessing by default).</summary>
public sealed record FlowOptions
{
    /// <summary>The algorithm. Default <see cref="FlowAlgorithm.TvL1"/> (our fast TV-L1).</summary>
    public FlowAlgorithm Algorithm { get; init; } = FlowAlgorithm.TvL1;

    /// <summary>TV-L1 parameters (both TV-L1 implementations). Default: OpenCV's defaults.</summary>
    public TvL1Parameters TvL1 { get; init; } = new();

    /// <summary>Displacements are truncated to [-Bound, Bound] pixels and divided by Bound. Default 20 (the paper).</summary>
    public double Bound { get; init; } = 20;

    /// <summary>
    /// Quantise the encoded flow to 8 bits as the official Kinetics flow data (256 levels over [-Bound, Bound]). The code
    /// is centred so that zero motion decodes to exactly 0: value = (code - 128) / 127, codes 1..255. Default false.
    /// </summary>
    public bool Quantize { get; init; }

    /// <summary>Directory of the on-disk flow cache; <c>null</c> for no cache.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Frame pairs computed at once (one per thread); 0 (default) for the processor count.</summary>
    public int MaxDegreeOfParallelism { get; init; }

    internal int Threads => MaxDegreeOfParallelism > 0 ? MaxDegreeOfParallelism : Environment.ProcessorCount;

    internal void Validate()
    {
        if (!Enum.IsDefined(Algorithm)) throw new ArgumentOutOfRangeException(nameof(Algorithm), Algorithm, "unknown flow algorithm");
        TvL1.Validate();
        if (!(Bound > 0) || double.IsInfinity(Bound)) throw new ArgumentOutOfRangeException(nameof(Bound), Bound, "Bound must be a finite number of pixels > 0");
        if (MaxDegreeOfParallelism < 0) throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be >= 0 (0: one thread per processor)");
    }

    /// <summary>What determines the encoded flow (part of the cache key): algorithm, its parameters, bound and quantisation.</summary>
    internal string CanonicalText()
    {
        string algorithm = Algorithm switch
        {
            FlowAlgorithm.TvL1 => "tvl1;" + TvL1.CanonicalText(),
            FlowAlgorithm.TvL1OpenCv => "tvl1-opencv;" + TvL1.CanonicalText(),
            _ => "farneback;0.5,3,15,3,5,1.2",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{algorithm};bound={Bound:R};quantize={Quantize}");
    }
}
