using System.Runtime.InteropServices;
using OpenCvSharp;

namespace I3D.MLNet.Flow;

/// <summary>
/// OpenCV's flow algorithms on 8-bit grayscale frames: the reference TV-L1 (superres <c>DualTVL1OpticalFlow</c>, which
/// runs opencv_contrib's optflow TV-L1 with its defaults) and Farneback.
/// </summary>
/// <remarks>
/// OpenCvSharp's <c>DenseOpticalFlowExt.Calc</c> crashes: it hands the native <c>superres_DenseOpticalFlowExt_calc</c> a
/// <c>superres::DualTVL1OpticalFlow*</c> where a <c>DenseOpticalFlowExt*</c> is expected, and DenseOpticalFlowExt is a
/// <em>virtual</em> base, so the pointer must be moved by the virtual-base offset that the Itanium C++ ABI stores in the
/// vtable, 3 pointers before the address point. We call the native entries ourselves with the adjusted pointer.
/// </remarks>
internal sealed class OpenCvTvL1 : IDisposable
{
    private const string Library = "OpenCvSharpExtern";
    private IntPtr _smartPointer;
    private readonly IntPtr _base;

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_createOptFlow_DualTVL1(out IntPtr returnValue);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_Ptr_DualTVL1OpticalFlow_get(IntPtr ptr, out IntPtr returnValue);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_Ptr_DualTVL1OpticalFlow_delete(IntPtr ptr);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DenseOpticalFlowExt_calc(IntPtr obj, IntPtr frame0, IntPtr frame1, IntPtr flow1, IntPtr flow2);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setTau(IntPtr obj, double val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setLambda(IntPtr obj, double val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setTheta(IntPtr obj, double val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setScalesNumber(IntPtr obj, int val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setWarpingsNumber(IntPtr obj, int val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setEpsilon(IntPtr obj, double val);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    private static extern int superres_DualTVL1OpticalFlow_setIterations(IntPtr obj, int val);

    /// <summary>Creates OpenCV's TV-L1. The superres wrapper exposes tau, lambda, theta, scales, warps, epsilon and the
    /// outer iterations; the scale step (0.8), inner iterations (30) and median filter (5) are OpenCV's defaults and
    /// cannot be changed through it, so other values are refused.</summary>
    public OpenCvTvL1(TvL1Parameters p)
    {
        p.Validate();
        var defaults = new TvL1Parameters();
        if (p.ScaleStep != defaults.ScaleStep || p.InnerIterations != defaults.InnerIterations || p.MedianFiltering != defaults.MedianFiltering)
            throw new NotSupportedException("OpenCV's TV-L1 (superres) cannot change ScaleStep, InnerIterations or MedianFiltering; use the TvL1 algorithm for those");
        NativeDependencies.EnsureOpenCv();
        Check(superres_createOptFlow_DualTVL1(out _smartPointer));
        Check(superres_Ptr_DualTVL1OpticalFlow_get(_smartPointer, out var derived));
        // Itanium ABI: vtable[-3] is the offset from this subobject to its virtual base DenseOpticalFlowExt.
        IntPtr vtable = Marshal.ReadIntPtr(derived);
        long virtualBaseOffset = Marshal.ReadInt64(vtable - 3 * IntPtr.Size);
        _base = derived + (nint)virtualBaseOffset;
        Check(superres_DualTVL1OpticalFlow_setTau(derived, p.Tau));
        Check(superres_DualTVL1OpticalFlow_setLambda(derived, p.Lambda));
        Check(superres_DualTVL1OpticalFlow_setTheta(derived, p.Theta));
        Check(superres_DualTVL1OpticalFlow_setScalesNumber(derived, p.Scales));
        Check(superres_DualTVL1OpticalFlow_setWarpingsNumber(derived, p.Warps));
        Check(superres_DualTVL1OpticalFlow_setEpsilon(derived, p.Epsilon));
        Check(superres_DualTVL1OpticalFlow_setIterations(derived, p.OuterIterations));
    }

    private static void Check(int status)
    {
        if (status != 0) throw new InvalidOperationException("OpenCV's TV-L1 failed (native exception in OpenCvSharpExtern)");
    }

    /// <summary>Flow from gray0 to gray1 (8-bit, h x w) into <paramref name="flow"/> (h x w x 2, pixels).</summary>
    public unsafe void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow)
    {
        ObjectDisposedException.ThrowIf(_smartPointer == IntPtr.Zero, this);
        fixed (byte* a = gray0)
        fixed (byte* b = gray1)
        {
            using var m0 = Mat.FromPixelData(height, width, MatType.CV_8UC1, (IntPtr)a);
            using var m1 = Mat.FromPixelData(height, width, MatType.CV_8UC1, (IntPtr)b);
            using var fx = new Mat();
            using var fy = new Mat();
            using var in0 = InputArray.Create(m0);
            using var in1 = InputArray.Create(m1);
            using var out0 = OutputArray.Create(fx);
            using var out1 = OutputArray.Create(fy);
            Check(superres_DenseOpticalFlowExt_calc(_base, in0.CvPtr, in1.CvPtr, out0.CvPtr, out1.CvPtr));
            GC.KeepAlive(m0);
            GC.KeepAlive(m1);
            if (fx.Rows != height || fx.Cols != width || fx.Type() != MatType.CV_32FC1 || fy.Type() != MatType.CV_32FC1)
                throw new InvalidOperationException($"OpenCV's TV-L1 returned {fx.Cols}x{fx.Rows} {fx.Type()} for a {width}x{height} frame");
            Interleave(fx, fy, width, height, flow);
        }
    }

    internal static unsafe void Interleave(Mat fx, Mat fy, int width, int height, Span<float> flow)
    {
        for (int y = 0; y < height; y++)
        {
            var rx = new ReadOnlySpan<float>((void*)fx.Ptr(y), width);
            var ry = new ReadOnlySpan<float>((void*)fy.Ptr(y), width);
            var dst = flow.Slice(y * width * 2, width * 2);
            for (int x = 0; x < width; x++)
            {
                dst[2 * x] = rx[x];
                dst[2 * x + 1] = ry[x];
            }
        }
    }

    public void Dispose()
    {
        if (_smartPointer != IntPtr.Zero)
        {
            superres_Ptr_DualTVL1OpticalFlow_delete(_smartPointer);
            _smartPointer = IntPtr.Zero;
        }
    }
}

/// <summary>OpenCV's Farneback flow with the parameters most Python code uses (0.5, 3, 15, 3, 5, 1.2, 0).</summary>
internal static class OpenCvFarneback
{
    public static unsafe void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow)
    {
        NativeDependencies.EnsureOpenCv();
        fixed (byte* a = gray0)
        fixed (byte* b = gray1)
        fixed (float* f = flow)
        {
            using var m0 = Mat.FromPixelData(height, width, MatType.CV_8UC1, (IntPtr)a);
            using var m1 = Mat.FromPixelData(height, width, MatType.CV_8UC1, (IntPtr)b);
            using var result = Mat.FromPixelData(height, width, MatType.CV_32FC2, (IntPtr)f);
            Cv2.CalcOpticalFlowFarneback(m0, m1, result, 0.5, 3, 15, 3, 5, 1.2, OpticalFlowFlags.None);
            if (result.Data != (IntPtr)f) throw new InvalidOperationException("Farneback reallocated its output");
        }
    }
}
