using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace I3D.MLNet.Flow;

/// <summary>
/// Our TV-L1 optical flow: the algorithm of OpenCV's <c>DualTVL1OpticalFlow</c> (Zach, Pock, Bischof 2007 in the
/// formulation of Sanchez, Meinhardt-Llopis, Facciolo, IPOL 2013), written again for speed: float32 SIMD on 16 pixels at
/// a time (Vector512), the dual/primal updates of one inner iteration fused into a single sweep over the rows, no
/// allocation per pair (workspaces are pooled), and several frame pairs solved at once on different threads.
/// </summary>
/// <remarks>
/// What is reproduced from OpenCV (opencv_contrib modules/optflow/src/tvl1flow.cpp, read, not copied):
/// <list type="bullet">
/// <item>input converted to float 0..255; pyramid by repeated bilinear resizes of factor ScaleStep (half-pixel centres,
/// clamped borders, size rounded), stopping before a level narrower or lower than 16 pixels;</item>
/// <item>flow starts at zero on the coarsest level and is carried to the next finer one by a bilinear resize multiplied by 1/ScaleStep;</item>
/// <item>per level: centred-difference gradient of the second image (one-sided halves at the borders), dual variables
/// reset to 0; per warp: the second image and its gradient warped by the current flow with bicubic interpolation
/// (a = -0.75, sampling position rounded to 1/32 pixel, zero outside the image, as <c>cv::remap</c> with float maps and
/// its default constant border), then up to OuterIterations x (median filter of the flow, up to InnerIterations of
/// thresholding, divergence, primal and dual updates), stopping as soon as the sum over the level of the squared update
/// of the flow falls to epsilon^2 x pixels;</item>
/// <item>forward differences with zero at the last row and column, divergence with the matching backward differences.</item>
/// </list>
/// Departures (numerically small): one division 1/(1 + tau/theta |grad u|) per flow component instead of two; 1/|grad I1|^2
/// computed once per warp; pixels whose |grad I1|^2 is at most float epsilon get no data step (OpenCV moves them by at most
/// lambda theta |grad I1| &lt; 2e-5 px); float sums in another order.
/// </remarks>
internal sealed class TvL1Solver
{
    private const int Lanes = 16;
    private const float FloatEpsilon = 1.1920929E-07f; // FLT_EPSILON, OpenCV's threshold on |grad I1|^2
    private readonly TvL1Parameters _p;
    private readonly ConcurrentBag<Workspace> _pool = [];
    private static readonly float[] CubicTable = BuildCubicTable();
    private static readonly Vector512<float>[] HorizontalWeights = Enumerable.Range(0, 32)
        .Select(k => Vector512.Create(Enumerable.Range(0, 16).Select(i => CubicTable[k * 4 + i / 4]).ToArray())).ToArray();

    public TvL1Solver(TvL1Parameters parameters)
    {
        parameters.Validate();
        _p = parameters;
    }

    /// <summary>Computes the flow from <paramref name="gray0"/> to <paramref name="gray1"/> (8-bit, h x w, row-major) into
    /// <paramref name="flow"/> (h x w x 2: x then y displacement in pixels).</summary>
    public void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow)
    {
        if (width < 3 || height < 3) throw new ArgumentException($"TV-L1 needs frames of at least 3x3 pixels, not {width}x{height}");
        if (gray0.Length < width * height || gray1.Length < width * height || flow.Length < width * height * 2)
            throw new ArgumentException("buffers smaller than the frame size");
        var ws = Rent(width, height);
        try
        {
            Solve(ws, gray0, gray1, flow);
        }
        finally
        {
            _pool.Add(ws);
        }
    }

    private Workspace Rent(int width, int height)
    {
        var rejected = new List<Workspace>();
        Workspace? found = null;
        while (_pool.TryTake(out var ws))
        {
            if (ws.Width == width && ws.Height == height) { found = ws; break; }
            rejected.Add(ws);
        }
        // Keep a few of the other sizes; drop the rest for the GC.
        foreach (var ws in rejected.Take(4)) _pool.Add(ws);
        return found ?? new Workspace(width, height, _p);
    }

    /// <summary>A padded float plane: row y, column x at <c>Origin + y * Stride + x</c>; one zero row above, 16 zero
    /// columns on the left (so x-1 and y-1 read zeros), columns up to the next multiple of 16 on the right (kept 0).</summary>
    private sealed class Plane(int width, int height)
    {
        public readonly int Width = width, Height = height;
        public readonly int Stride = Lanes + RoundUp(width);
        public int Origin => Stride + Lanes;
        public readonly float[] Data = new float[(height + 2) * (Lanes + RoundUp(width)) + 2 * Lanes];

        public int Index(int y, int x) => Origin + y * Stride + x;

        public void Clear() => Array.Clear(Data);
    }

    private static int RoundUp(int n) => (n + Lanes - 1) / Lanes * Lanes;

    private sealed class Level
    {
        public readonly int W, H;
        public readonly Plane I0, I1, U1, U2, P11, P12, P21, P22, Ix, Iy, InvGrad, Rho;
        public readonly float[] Packed; // (I1, dI1/dx, dI1/dy, 0) per pixel, dense h x w x 4: a row of 4 bicubic taps is one 512-bit load
        public readonly float[] Median; // replicate-padded copy of a flow component
        public readonly int MedianStride;

        public Level(int w, int h)
        {
            W = w;
            H = h;
            I0 = new(w, h); I1 = new(w, h); U1 = new(w, h); U2 = new(w, h);
            P11 = new(w, h); P12 = new(w, h); P21 = new(w, h); P22 = new(w, h);
            Ix = new(w, h); Iy = new(w, h); InvGrad = new(w, h); Rho = new(w, h);
            Packed = new float[w * h * 4];
            MedianStride = RoundUp(w) + Lanes + 8;
            Median = new float[(h + 4) * MedianStride + Lanes];
        }
    }

    private sealed class Workspace
    {
        public readonly int Width, Height;
        public readonly Level[] Levels;

        public Workspace(int width, int height, TvL1Parameters p)
        {
            Width = width;
            Height = height;
            var levels = new List<Level> { new(width, height) };
            int w = width, h = height;
            for (int s = 1; s < p.Scales; s++)
            {
                // cv::resize with fx = fy = ScaleStep: the size is rounded to nearest (ties to even).
                w = (int)Math.Round(w * p.ScaleStep, MidpointRounding.ToEven);
                h = (int)Math.Round(h * p.ScaleStep, MidpointRounding.ToEven);
                if (w < 16 || h < 16) break;
                levels.Add(new Level(w, h));
            }
            Levels = [.. levels];
        }
    }

    private void Solve(Workspace ws, ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, Span<float> flow)
    {
        var levels = ws.Levels;
        var top = levels[0];
        for (int y = 0; y < top.H; y++)
        {
            int row = top.I0.Index(y, 0);
            var g0 = gray0.Slice(y * top.W, top.W);
            var g1 = gray1.Slice(y * top.W, top.W);
            for (int x = 0; x < top.W; x++)
            {
                top.I0.Data[row + x] = g0[x];
                top.I1.Data[row + x] = g1[x];
            }
        }

        for (int s = 1; s < levels.Length; s++)
        {
            ResizeBilinear(levels[s - 1].I0, levels[s].I0, 1 / _p.ScaleStep, 1 / _p.ScaleStep, 1);
            ResizeBilinear(levels[s - 1].I1, levels[s].I1, 1 / _p.ScaleStep, 1 / _p.ScaleStep, 1);
        }

        var coarsest = levels[^1];
        coarsest.U1.Clear();
        coarsest.U2.Clear();
        for (int s = levels.Length - 1; s >= 0; s--)
        {
            SolveLevel(levels[s]);
            if (s == 0) break;
            var fine = levels[s - 1];
            float zoom = (float)(1 / _p.ScaleStep);
            ResizeBilinear(levels[s].U1, fine.U1, (double)levels[s].W / fine.W, (double)levels[s].H / fine.H, zoom);
            ResizeBilinear(levels[s].U2, fine.U2, (double)levels[s].W / fine.W, (double)levels[s].H / fine.H, zoom);
        }

        for (int y = 0; y < top.H; y++)
        {
            int row = top.U1.Index(y, 0);
            var dst = flow.Slice(y * top.W * 2, top.W * 2);
            for (int x = 0; x < top.W; x++)
            {
                dst[2 * x] = top.U1.Data[row + x];
                dst[2 * x + 1] = top.U2.Data[row + x];
            }
        }
    }

    /// <summary>cv::resize INTER_LINEAR on float planes: source position (d + 0.5) * scale - 0.5, clamped to the image;
    /// results multiplied by <paramref name="gain"/>.</summary>
    private static void ResizeBilinear(Plane src, Plane dst, double scaleX, double scaleY, float gain)
    {
        int sw = src.Width, sh = src.Height;
        Span<int> x0 = dst.Width <= 4096 ? stackalloc int[dst.Width] : new int[dst.Width];
        Span<float> ax = dst.Width <= 4096 ? stackalloc float[dst.Width] : new float[dst.Width];
        for (int dx = 0; dx < dst.Width; dx++) (x0[dx], ax[dx]) = SourcePosition(dx, scaleX, sw);
        var s = src.Data;
        var d = dst.Data;
        for (int dy = 0; dy < dst.Height; dy++)
        {
            var (y0, ay) = SourcePosition(dy, scaleY, sh);
            int r0 = src.Index(y0, 0), r1 = src.Index(Math.Min(y0 + 1, sh - 1), 0);
            int o = dst.Index(dy, 0);
            for (int dx = 0; dx < dst.Width; dx++)
            {
                int a = x0[dx], b = Math.Min(a + 1, sw - 1);
                float fx = ax[dx];
                float top = s[r0 + a] * (1 - fx) + s[r0 + b] * fx;
                float bottom = s[r1 + a] * (1 - fx) + s[r1 + b] * fx;
                d[o + dx] = (top * (1 - ay) + bottom * ay) * gain;
            }
        }
    }

    private static (int Index, float Fraction) SourcePosition(int d, double scale, int size)
    {
        float f = (float)((d + 0.5) * scale - 0.5);
        int i = (int)MathF.Floor(f);
        f -= i;
        if (i < 0) { i = 0; f = 0; }
        if (i >= size - 1) { i = size - 1; f = 0; }
        return (i, f);
    }

    private void SolveLevel(Level L)
    {
        int w = L.W, h = L.H;
        float scaledEpsilon = (float)(_p.Epsilon * _p.Epsilon * w * h);
        CentredGradient(L);
        L.P11.Clear(); L.P12.Clear(); L.P21.Clear(); L.P22.Clear();
        for (int warp = 0; warp < _p.Warps; warp++)
        {
            Warp(L);
            float error = float.MaxValue;
            for (int outer = 0; error > scaledEpsilon && outer < _p.OuterIterations; outer++)
            {
                if (_p.MedianFiltering > 1)
                {
                    MedianFilter(L, L.U1, _p.MedianFiltering);
                    MedianFilter(L, L.U2, _p.MedianFiltering);
                }
                for (int inner = 0; error > scaledEpsilon && inner < _p.InnerIterations; inner++)
                    error = Iterate(L);
            }
        }
    }

    private static void CentredGradient(Level L)
    {
        int w = L.W, h = L.H;
        var s = L.I1.Data;
        for (int y = 0; y < h; y++)
        {
            int r = L.I1.Index(y, 0);
            int up = L.I1.Index(Math.Max(y - 1, 0), 0), down = L.I1.Index(Math.Min(y + 1, h - 1), 0);
            for (int x = 0; x < w; x++)
            {
                int left = Math.Max(x - 1, 0), right = Math.Min(x + 1, w - 1);
                // Centred differences; at a border the one-sided difference, still halved (as OpenCV).
                int o = (y * w + x) * 4;
                L.Packed[o] = s[r + x];
                L.Packed[o + 1] = 0.5f * (s[r + right] - s[r + left]);
                L.Packed[o + 2] = 0.5f * (s[down + x] - s[up + x]);
                L.Packed[o + 3] = 0;
            }
        }
    }

    private static float[] BuildCubicTable()
    {
        const float A = -0.75f;
        var table = new float[32 * 4];
        for (int i = 0; i < 32; i++)
        {
            float x = i / 32f;
            float c0 = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
            float c1 = ((A + 2) * x - (A + 3)) * x * x + 1;
            float c2 = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
            table[i * 4] = c0;
            table[i * 4 + 1] = c1;
            table[i * 4 + 2] = c2;
            table[i * 4 + 3] = 1 - c0 - c1 - c2;
        }
        return table;
    }

    /// <summary>Warps I1 and its gradient by the current flow (bicubic, 1/32-pixel positions, zero outside) and computes
    /// 1/|grad|^2 and the constant part of the linearised data term, rho_c = I1w - Ix u1 - Iy u2 - I0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Warp(Level L)
    {
        int w = L.W, h = L.H;
        ref float packed = ref MemoryMarshal.GetArrayDataReference(L.Packed);
        ref float u1s = ref MemoryMarshal.GetArrayDataReference(L.U1.Data);
        ref float u2s = ref MemoryMarshal.GetArrayDataReference(L.U2.Data);
        ref float i0s = ref MemoryMarshal.GetArrayDataReference(L.I0.Data);
        ref float ixs = ref MemoryMarshal.GetArrayDataReference(L.Ix.Data);
        ref float iys = ref MemoryMarshal.GetArrayDataReference(L.Iy.Data);
        ref float invGrads = ref MemoryMarshal.GetArrayDataReference(L.InvGrad.Data);
        ref float rhos = ref MemoryMarshal.GetArrayDataReference(L.Rho.Data);
        uint innerW = (uint)Math.Max(w - 3, 0), innerH = (uint)Math.Max(h - 3, 0);
        Span<int> xs = stackalloc int[Lanes], ys = stackalloc int[Lanes];
        Span<float> warped = stackalloc float[3 * Lanes]; // I1w, I1wx, I1wy of 16 pixels
        var lo = Vector512.Create(-1e6f);
        var hi = Vector512.Create(1e6f);
        var sixteenth = Vector512.Create(32f);
        for (int y = 0; y < h; y++)
        {
            int row = L.U1.Index(y, 0);
            var yv = Vector512.Create((float)y);
            for (int x = 0; x < w; x += Lanes)
            {
                nuint b = (nuint)(row + x);
                var u1 = Vector512.LoadUnsafe(ref u1s, b);
                var u2 = Vector512.LoadUnsafe(ref u2s, b);
                // Sampling positions in 1/32 pixel, rounded to nearest (ties to even) as cv::remap's float-map conversion.
                var mx = Vector512.MinNative(Vector512.MaxNative(Iota + Vector512.Create((float)x) + u1, lo), hi);
                var my = Vector512.MinNative(Vector512.MaxNative(yv + u2, lo), hi);
                Vector512.ConvertToInt32(Vector512.Round(mx * sixteenth)).CopyTo(xs);
                Vector512.ConvertToInt32(Vector512.Round(my * sixteenth)).CopyTo(ys);
                warped.Clear();
                int lanes = Math.Min(Lanes, w - x);
                for (int k = 0; k < lanes; k++)
                {
                    var sum = Sample(ref packed, xs[k], ys[k], w, h, innerW, innerH);
                    warped[k] = sum[0];
                    warped[Lanes + k] = sum[1];
                    warped[2 * Lanes + k] = sum[2];
                }
                var v = Vector512.Create<float>(warped[..Lanes]);
                var vx = Vector512.Create<float>(warped.Slice(Lanes, Lanes));
                var vy = Vector512.Create<float>(warped.Slice(2 * Lanes, Lanes));
                var grad = vx * vx + vy * vy;
                var invGrad = Vector512.ConditionalSelect(Vector512.GreaterThan(grad, Vector512.Create(FloatEpsilon)), Vector512<float>.One / grad, Vector512<float>.Zero);
                vx.StoreUnsafe(ref ixs, b);
                vy.StoreUnsafe(ref iys, b);
                invGrad.StoreUnsafe(ref invGrads, b);
                (v - vx * u1 - vy * u2 - Vector512.LoadUnsafe(ref i0s, b)).StoreUnsafe(ref rhos, b);
            }
        }
    }

    /// <summary>Bicubic sample of (I1, Ix, Iy) at (X/32, Y/32); taps outside the image count as 0 (cv::remap's default constant border).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sample(ref float packed, int X, int Y, int w, int h, uint innerW, uint innerH)
    {
        int sx = (X >> 5) - 1, sy = (Y >> 5) - 1;
        ref float tab = ref MemoryMarshal.GetArrayDataReference(CubicTable);
        int wy = (Y & 31) * 4;
        if ((uint)sx < innerW && (uint)sy < innerH)
        {
            // The 4 taps of a row are 16 consecutive floats (4 x (I1, Ix, Iy, 0)): one 512-bit load per row, times the
            // horizontal weights spread over each tap's 4 lanes, times the row's vertical weight.
            var weightX = HorizontalWeights[X & 31];
            nuint o = (nuint)((sy * w + sx) * 4), step = (nuint)(w * 4);
            var acc = Vector512.LoadUnsafe(ref packed, o) * (weightX * Unsafe.Add(ref tab, wy));
            acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref packed, o + step), weightX * Unsafe.Add(ref tab, wy + 1), acc);
            acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref packed, o + 2 * step), weightX * Unsafe.Add(ref tab, wy + 2), acc);
            acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref packed, o + 3 * step), weightX * Unsafe.Add(ref tab, wy + 3), acc);
            var half = acc.GetLower() + acc.GetUpper();
            return half.GetLower() + half.GetUpper();
        }
        var sum = Vector128<float>.Zero;
        if (sx >= w || sx + 4 <= 0 || sy >= h || sy + 4 <= 0) return sum;
        int wx = (X & 31) * 4;
        for (int i = 0; i < 4; i++)
        {
            int yy = sy + i;
            if ((uint)yy >= (uint)h) continue;
            var line = Vector128<float>.Zero;
            for (int j = 0; j < 4; j++)
            {
                int xx = sx + j;
                if ((uint)xx >= (uint)w) continue;
                line += Vector128.LoadUnsafe(ref packed, (nuint)((yy * w + xx) * 4)) * Vector128.Create(Unsafe.Add(ref tab, wx + j));
            }
            sum += line * Vector128.Create(Unsafe.Add(ref tab, wy + i));
        }
        return sum;
    }

    private static readonly Vector512<float> Iota = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>One inner iteration, fused: for each row the thresholding step, the divergence of the (old) dual
    /// variables and the primal update; then the dual update of the row above, whose flow and the next row's are now final.
    /// Returns the sum of the squared flow updates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float Iterate(Level L)
    {
        int w = L.W, h = L.H, stride = L.U1.Stride;
        var lt = Vector512.Create((float)(_p.Lambda * _p.Theta));
        var nlt = -lt;
        var theta = Vector512.Create((float)_p.Theta);
        var taut = Vector512.Create((float)(_p.Tau / _p.Theta));
        var wv = Vector512.Create((float)w);
        var err = Vector512<float>.Zero;
        ref float u1 = ref MemoryMarshal.GetArrayDataReference(L.U1.Data);
        ref float u2 = ref MemoryMarshal.GetArrayDataReference(L.U2.Data);
        ref float ix = ref MemoryMarshal.GetArrayDataReference(L.Ix.Data);
        ref float iy = ref MemoryMarshal.GetArrayDataReference(L.Iy.Data);
        ref float ig = ref MemoryMarshal.GetArrayDataReference(L.InvGrad.Data);
        ref float rc = ref MemoryMarshal.GetArrayDataReference(L.Rho.Data);
        ref float p11 = ref MemoryMarshal.GetArrayDataReference(L.P11.Data);
        ref float p12 = ref MemoryMarshal.GetArrayDataReference(L.P12.Data);
        ref float p21 = ref MemoryMarshal.GetArrayDataReference(L.P21.Data);
        ref float p22 = ref MemoryMarshal.GetArrayDataReference(L.P22.Data);

        for (int y = 0; y < h; y++)
        {
            int row = L.U1.Index(y, 0);
            for (int x = 0; x < w; x += Lanes)
            {
                nuint b = (nuint)(row + x);
                var valid = Vector512.LessThan(Iota + Vector512.Create((float)x), wv);
                var u1o = Vector512.LoadUnsafe(ref u1, b);
                var u2o = Vector512.LoadUnsafe(ref u2, b);
                var gx = Vector512.LoadUnsafe(ref ix, b);
                var gy = Vector512.LoadUnsafe(ref iy, b);
                var rho = Vector512.FusedMultiplyAdd(gy, u2o, Vector512.FusedMultiplyAdd(gx, u1o, Vector512.LoadUnsafe(ref rc, b)));
                var fi = Vector512.MinNative(Vector512.MaxNative(-rho * Vector512.LoadUnsafe(ref ig, b), nlt), lt);
                var div1 = Vector512.LoadUnsafe(ref p11, b) - Vector512.LoadUnsafe(ref p11, b - 1)
                         + Vector512.LoadUnsafe(ref p12, b) - Vector512.LoadUnsafe(ref p12, b - (nuint)stride);
                var div2 = Vector512.LoadUnsafe(ref p21, b) - Vector512.LoadUnsafe(ref p21, b - 1)
                         + Vector512.LoadUnsafe(ref p22, b) - Vector512.LoadUnsafe(ref p22, b - (nuint)stride);
                var u1n = Vector512.FusedMultiplyAdd(theta, div1, Vector512.FusedMultiplyAdd(fi, gx, u1o));
                var u2n = Vector512.FusedMultiplyAdd(theta, div2, Vector512.FusedMultiplyAdd(fi, gy, u2o));
                u1n = Vector512.ConditionalSelect(valid, u1n, Vector512<float>.Zero);
                u2n = Vector512.ConditionalSelect(valid, u2n, Vector512<float>.Zero);
                var d1 = u1n - u1o;
                var d2 = u2n - u2o;
                err = Vector512.FusedMultiplyAdd(d1, d1, Vector512.FusedMultiplyAdd(d2, d2, err));
                u1n.StoreUnsafe(ref u1, b);
                u2n.StoreUnsafe(ref u2, b);
            }
            if (y > 0) DualRow(L, row - stride, last: false, taut);
        }
        DualRow(L, L.U1.Index(h - 1, 0), last: true, taut);
        return Vector512.Sum(err);
    }

    /// <summary>Dual update of one row: forward differences of the flow (0 across the last column, and down from the last row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DualRow(Level L, int row, bool last, Vector512<float> taut)
    {
        int w = L.W, stride = L.U1.Stride;
        var lastColumn = Vector512.Create((float)(w - 1));
        var one = Vector512<float>.One;
        ref float u1 = ref MemoryMarshal.GetArrayDataReference(L.U1.Data);
        ref float u2 = ref MemoryMarshal.GetArrayDataReference(L.U2.Data);
        ref float p11 = ref MemoryMarshal.GetArrayDataReference(L.P11.Data);
        ref float p12 = ref MemoryMarshal.GetArrayDataReference(L.P12.Data);
        ref float p21 = ref MemoryMarshal.GetArrayDataReference(L.P21.Data);
        ref float p22 = ref MemoryMarshal.GetArrayDataReference(L.P22.Data);
        for (int x = 0; x < w; x += Lanes)
        {
            nuint b = (nuint)(row + x);
            var inner = Vector512.LessThan(Iota + Vector512.Create((float)x), lastColumn);
            var a1 = Vector512.LoadUnsafe(ref u1, b);
            var a2 = Vector512.LoadUnsafe(ref u2, b);
            var u1x = Vector512.ConditionalSelect(inner, Vector512.LoadUnsafe(ref u1, b + 1) - a1, Vector512<float>.Zero);
            var u2x = Vector512.ConditionalSelect(inner, Vector512.LoadUnsafe(ref u2, b + 1) - a2, Vector512<float>.Zero);
            var u1y = last ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref u1, b + (nuint)stride) - a1;
            var u2y = last ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref u2, b + (nuint)stride) - a2;
            var r1 = one / Vector512.FusedMultiplyAdd(taut, Vector512.Sqrt(u1x * u1x + u1y * u1y), one);
            var r2 = one / Vector512.FusedMultiplyAdd(taut, Vector512.Sqrt(u2x * u2x + u2y * u2y), one);
            (Vector512.FusedMultiplyAdd(taut, u1x, Vector512.LoadUnsafe(ref p11, b)) * r1).StoreUnsafe(ref p11, b);
            (Vector512.FusedMultiplyAdd(taut, u1y, Vector512.LoadUnsafe(ref p12, b)) * r1).StoreUnsafe(ref p12, b);
            (Vector512.FusedMultiplyAdd(taut, u2x, Vector512.LoadUnsafe(ref p21, b)) * r2).StoreUnsafe(ref p21, b);
            (Vector512.FusedMultiplyAdd(taut, u2y, Vector512.LoadUnsafe(ref p22, b)) * r2).StoreUnsafe(ref p22, b);
        }
    }

    /// <summary>In-place median filter (k x k, replicated borders) of a flow component, 16 pixels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MedianFilter(Level L, Plane u, int k)
    {
        int w = L.W, h = L.H, r = k / 2, ms = L.MedianStride;
        var m = L.Median;
        var src = u.Data;
        for (int y = -r; y < h + r; y++)
        {
            int sr = u.Index(Math.Clamp(y, 0, h - 1), 0);
            int dr = (y + r) * ms;
            // The row, then its first and last pixels replicated into the margins (the right one up to the padding).
            src.AsSpan(sr, w).CopyTo(m.AsSpan(dr + r, w));
            m.AsSpan(dr, r).Fill(src[sr]);
            m.AsSpan(dr + r + w, ms - r - w).Fill(src[sr + w - 1]);
        }
        var wv = Vector512.Create((float)w);
        ref float mr = ref MemoryMarshal.GetArrayDataReference(m);
        ref float ur = ref MemoryMarshal.GetArrayDataReference(src);
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x += Lanes)
            {
                Vector512<float> median;
                nuint b = (nuint)(y * ms + x);
                nuint s1 = (nuint)ms, s2 = 2 * s1, s3 = 3 * s1, s4 = 4 * s1;
                if (k == 5)
                {
                    median = MedianKernels.Median25(
                        L5(ref mr, b), L5(ref mr, b + 1), L5(ref mr, b + 2), L5(ref mr, b + 3), L5(ref mr, b + 4),
                        L5(ref mr, b + s1), L5(ref mr, b + s1 + 1), L5(ref mr, b + s1 + 2), L5(ref mr, b + s1 + 3), L5(ref mr, b + s1 + 4),
                        L5(ref mr, b + s2), L5(ref mr, b + s2 + 1), L5(ref mr, b + s2 + 2), L5(ref mr, b + s2 + 3), L5(ref mr, b + s2 + 4),
                        L5(ref mr, b + s3), L5(ref mr, b + s3 + 1), L5(ref mr, b + s3 + 2), L5(ref mr, b + s3 + 3), L5(ref mr, b + s3 + 4),
                        L5(ref mr, b + s4), L5(ref mr, b + s4 + 1), L5(ref mr, b + s4 + 2), L5(ref mr, b + s4 + 3), L5(ref mr, b + s4 + 4));
                }
                else
                {
                    median = MedianKernels.Median9(
                        L5(ref mr, b), L5(ref mr, b + 1), L5(ref mr, b + 2),
                        L5(ref mr, b + s1), L5(ref mr, b + s1 + 1), L5(ref mr, b + s1 + 2),
                        L5(ref mr, b + s2), L5(ref mr, b + s2 + 1), L5(ref mr, b + s2 + 2));
                }
                var valid = Vector512.LessThan(Iota + Vector512.Create((float)x), wv);
                Vector512.ConditionalSelect(valid, median, Vector512<float>.Zero).StoreUnsafe(ref ur, (nuint)u.Index(y, x));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> L5(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);
}
