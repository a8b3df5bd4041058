using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace I3D.MLNet.Flow;

/// <summary>
/// The median networks of <see cref="MedianNetwork"/> (3x3 and 5x5) as straight-line SIMD code, so that the 25 (or 9)
/// values stay in registers. Generated from <c>MedianNetwork.For(9 | 25).Comparators</c> (one line per comparator; a
/// test checks these kernels against a sort). Inputs are the window in row-major order.
/// </summary>
internal static class MedianKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Median9(
        Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, Vector512<float> v4,
        Vector512<float> v5, Vector512<float> v6, Vector512<float> v7, Vector512<float> v8)
    {
        Vector512<float> t;
        t = Vector512.MinNative(v0, v1); v1 = Vector512.MaxNative(v0, v1); v0 = t;
        t = Vector512.MinNative(v2, v3); v3 = Vector512.MaxNative(v2, v3); v2 = t;
        t = Vector512.MinNative(v4, v5); v5 = Vector512.MaxNative(v4, v5); v4 = t;
        t = Vector512.MinNative(v6, v7); v7 = Vector512.MaxNative(v6, v7); v6 = t;
        t = Vector512.MinNative(v0, v2); v2 = Vector512.MaxNative(v0, v2); v0 = t;
        t = Vector512.MinNative(v1, v3); v3 = Vector512.MaxNative(v1, v3); v1 = t;
        t = Vector512.MinNative(v4, v6); v6 = Vector512.MaxNative(v4, v6); v4 = t;
        t = Vector512.MinNative(v5, v7); v7 = Vector512.MaxNative(v5, v7); v5 = t;
        t = Vector512.MinNative(v1, v2); v2 = Vector512.MaxNative(v1, v2); v1 = t;
        t = Vector512.MinNative(v5, v6); v6 = Vector512.MaxNative(v5, v6); v5 = t;
        t = Vector512.MinNative(v0, v4); v4 = Vector512.MaxNative(v0, v4); v0 = t;
        t = Vector512.MinNative(v1, v5); v5 = Vector512.MaxNative(v1, v5); v1 = t;
        t = Vector512.MinNative(v2, v6); v6 = Vector512.MaxNative(v2, v6); v2 = t;
        v3 = Vector512.MinNative(v3, v7);
        t = Vector512.MinNative(v2, v4); v4 = Vector512.MaxNative(v2, v4); v2 = t;
        t = Vector512.MinNative(v3, v5); v5 = Vector512.MaxNative(v3, v5); v3 = t;
        v2 = Vector512.MaxNative(v1, v2);
        t = Vector512.MinNative(v3, v4); v4 = Vector512.MaxNative(v3, v4); v3 = t;
        v5 = Vector512.MinNative(v5, v6);
        v8 = Vector512.MaxNative(v0, v8);
        v4 = Vector512.MinNative(v4, v8);
        v4 = Vector512.MaxNative(v2, v4);
        v3 = Vector512.MinNative(v3, v5);
        v4 = Vector512.MaxNative(v3, v4);
        return v4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Median25(
        Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, Vector512<float> v4,
        Vector512<float> v5, Vector512<float> v6, Vector512<float> v7, Vector512<float> v8, Vector512<float> v9,
        Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, Vector512<float> v14,
        Vector512<float> v15, Vector512<float> v16, Vector512<float> v17, Vector512<float> v18, Vector512<float> v19,
        Vector512<float> v20, Vector512<float> v21, Vector512<float> v22, Vector512<float> v23, Vector512<float> v24)
    {
        Vector512<float> t;
        t = Vector512.MinNative(v0, v1); v1 = Vector512.MaxNative(v0, v1); v0 = t;
        t = Vector512.MinNative(v2, v3); v3 = Vector512.MaxNative(v2, v3); v2 = t;
        t = Vector512.MinNative(v4, v5); v5 = Vector512.MaxNative(v4, v5); v4 = t;
        t = Vector512.MinNative(v6, v7); v7 = Vector512.MaxNative(v6, v7); v6 = t;
        t = Vector512.MinNative(v8, v9); v9 = Vector512.MaxNative(v8, v9); v8 = t;
        t = Vector512.MinNative(v10, v11); v11 = Vector512.MaxNative(v10, v11); v10 = t;
        t = Vector512.MinNative(v12, v13); v13 = Vector512.MaxNative(v12, v13); v12 = t;
        t = Vector512.MinNative(v14, v15); v15 = Vector512.MaxNative(v14, v15); v14 = t;
        t = Vector512.MinNative(v16, v17); v17 = Vector512.MaxNative(v16, v17); v16 = t;
        t = Vector512.MinNative(v18, v19); v19 = Vector512.MaxNative(v18, v19); v18 = t;
        t = Vector512.MinNative(v20, v21); v21 = Vector512.MaxNative(v20, v21); v20 = t;
        t = Vector512.MinNative(v22, v23); v23 = Vector512.MaxNative(v22, v23); v22 = t;
        t = Vector512.MinNative(v0, v2); v2 = Vector512.MaxNative(v0, v2); v0 = t;
        t = Vector512.MinNative(v1, v3); v3 = Vector512.MaxNative(v1, v3); v1 = t;
        t = Vector512.MinNative(v4, v6); v6 = Vector512.MaxNative(v4, v6); v4 = t;
        t = Vector512.MinNative(v5, v7); v7 = Vector512.MaxNative(v5, v7); v5 = t;
        t = Vector512.MinNative(v8, v10); v10 = Vector512.MaxNative(v8, v10); v8 = t;
        t = Vector512.MinNative(v9, v11); v11 = Vector512.MaxNative(v9, v11); v9 = t;
        t = Vector512.MinNative(v12, v14); v14 = Vector512.MaxNative(v12, v14); v12 = t;
        t = Vector512.MinNative(v13, v15); v15 = Vector512.MaxNative(v13, v15); v13 = t;
        t = Vector512.MinNative(v16, v18); v18 = Vector512.MaxNative(v16, v18); v16 = t;
        t = Vector512.MinNative(v17, v19); v19 = Vector512.MaxNative(v17, v19); v17 = t;
        t = Vector512.MinNative(v20, v22); v22 = Vector512.MaxNative(v20, v22); v20 = t;
        t = Vector512.MinNative(v21, v23); v23 = Vector512.MaxNative(v21, v23); v21 = t;
        t = Vector512.MinNative(v1, v2); v2 = Vector512.MaxNative(v1, v2); v1 = t;
        t = Vector512.MinNative(v5, v6); v6 = Vector512.MaxNative(v5, v6); v5 = t;
        t = Vector512.MinNative(v9, v10); v10 = Vector512.MaxNative(v9, v10); v9 = t;
        t = Vector512.MinNative(v13, v14); v14 = Vector512.MaxNative(v13, v14); v13 = t;
        t = Vector512.MinNative(v17, v18); v18 = Vector512.MaxNative(v17, v18); v17 = t;
        t = Vector512.MinNative(v21, v22); v22 = Vector512.MaxNative(v21, v22); v21 = t;
        t = Vector512.MinNative(v0, v4); v4 = Vector512.MaxNative(v0, v4); v0 = t;
        t = Vector512.MinNative(v1, v5); v5 = Vector512.MaxNative(v1, v5); v1 = t;
        t = Vector512.MinNative(v2, v6); v6 = Vector512.MaxNative(v2, v6); v2 = t;
        t = Vector512.MinNative(v3, v7); v7 = Vector512.MaxNative(v3, v7); v3 = t;
        t = Vector512.MinNative(v8, v12); v12 = Vector512.MaxNative(v8, v12); v8 = t;
        t = Vector512.MinNative(v9, v13); v13 = Vector512.MaxNative(v9, v13); v9 = t;
        t = Vector512.MinNative(v10, v14); v14 = Vector512.MaxNative(v10, v14); v10 = t;
        t = Vector512.MinNative(v11, v15); v15 = Vector512.MaxNative(v11, v15); v11 = t;
        t = Vector512.MinNative(v16, v20); v20 = Vector512.MaxNative(v16, v20); v16 = t;
        t = Vector512.MinNative(v17, v21); v21 = Vector512.MaxNative(v17, v21); v17 = t;
        t = Vector512.MinNative(v18, v22); v22 = Vector512.MaxNative(v18, v22); v18 = t;
        t = Vector512.MinNative(v19, v23); v23 = Vector512.MaxNative(v19, v23); v19 = t;
        t = Vector512.MinNative(v2, v4); v4 = Vector512.MaxNative(v2, v4); v2 = t;
        t = Vector512.MinNative(v3, v5); v5 = Vector512.MaxNative(v3, v5); v3 = t;
        t = Vector512.MinNative(v10, v12); v12 = Vector512.MaxNative(v10, v12); v10 = t;
        t = Vector512.MinNative(v11, v13); v13 = Vector512.MaxNative(v11, v13); v11 = t;
        t = Vector512.MinNative(v18, v20); v20 = Vector512.MaxNative(v18, v20); v18 = t;
        t = Vector512.MinNative(v19, v21); v21 = Vector512.MaxNative(v19, v21); v19 = t;
        t = Vector512.MinNative(v1, v2); v2 = Vector512.MaxNative(v1, v2); v1 = t;
        t = Vector512.MinNative(v3, v4); v4 = Vector512.MaxNative(v3, v4); v3 = t;
        t = Vector512.MinNative(v5, v6); v6 = Vector512.MaxNative(v5, v6); v5 = t;
        t = Vector512.MinNative(v9, v10); v10 = Vector512.MaxNative(v9, v10); v9 = t;
        t = Vector512.MinNative(v11, v12); v12 = Vector512.MaxNative(v11, v12); v11 = t;
        t = Vector512.MinNative(v13, v14); v14 = Vector512.MaxNative(v13, v14); v13 = t;
        t = Vector512.MinNative(v17, v18); v18 = Vector512.MaxNative(v17, v18); v17 = t;
        t = Vector512.MinNative(v19, v20); v20 = Vector512.MaxNative(v19, v20); v19 = t;
        t = Vector512.MinNative(v21, v22); v22 = Vector512.MaxNative(v21, v22); v21 = t;
        t = Vector512.MinNative(v0, v8); v8 = Vector512.MaxNative(v0, v8); v0 = t;
        t = Vector512.MinNative(v1, v9); v9 = Vector512.MaxNative(v1, v9); v1 = t;
        t = Vector512.MinNative(v2, v10); v10 = Vector512.MaxNative(v2, v10); v2 = t;
        t = Vector512.MinNative(v3, v11); v11 = Vector512.MaxNative(v3, v11); v3 = t;
        t = Vector512.MinNative(v4, v12); v12 = Vector512.MaxNative(v4, v12); v4 = t;
        t = Vector512.MinNative(v5, v13); v13 = Vector512.MaxNative(v5, v13); v5 = t;
        t = Vector512.MinNative(v6, v14); v14 = Vector512.MaxNative(v6, v14); v6 = t;
        v7 = Vector512.MinNative(v7, v15);
        t = Vector512.MinNative(v16, v24); v24 = Vector512.MaxNative(v16, v24); v16 = t;
        t = Vector512.MinNative(v4, v8); v8 = Vector512.MaxNative(v4, v8); v4 = t;
        t = Vector512.MinNative(v5, v9); v9 = Vector512.MaxNative(v5, v9); v5 = t;
        t = Vector512.MinNative(v6, v10); v10 = Vector512.MaxNative(v6, v10); v6 = t;
        t = Vector512.MinNative(v7, v11); v11 = Vector512.MaxNative(v7, v11); v7 = t;
        t = Vector512.MinNative(v20, v24); v24 = Vector512.MaxNative(v20, v24); v20 = t;
        t = Vector512.MinNative(v2, v4); v4 = Vector512.MaxNative(v2, v4); v2 = t;
        t = Vector512.MinNative(v3, v5); v5 = Vector512.MaxNative(v3, v5); v3 = t;
        t = Vector512.MinNative(v6, v8); v8 = Vector512.MaxNative(v6, v8); v6 = t;
        t = Vector512.MinNative(v7, v9); v9 = Vector512.MaxNative(v7, v9); v7 = t;
        t = Vector512.MinNative(v10, v12); v12 = Vector512.MaxNative(v10, v12); v10 = t;
        t = Vector512.MinNative(v11, v13); v13 = Vector512.MaxNative(v11, v13); v11 = t;
        t = Vector512.MinNative(v18, v20); v20 = Vector512.MaxNative(v18, v20); v18 = t;
        t = Vector512.MinNative(v19, v21); v21 = Vector512.MaxNative(v19, v21); v19 = t;
        t = Vector512.MinNative(v22, v24); v24 = Vector512.MaxNative(v22, v24); v22 = t;
        t = Vector512.MinNative(v1, v2); v2 = Vector512.MaxNative(v1, v2); v1 = t;
        t = Vector512.MinNative(v3, v4); v4 = Vector512.MaxNative(v3, v4); v3 = t;
        t = Vector512.MinNative(v5, v6); v6 = Vector512.MaxNative(v5, v6); v5 = t;
        t = Vector512.MinNative(v7, v8); v8 = Vector512.MaxNative(v7, v8); v7 = t;
        t = Vector512.MinNative(v9, v10); v10 = Vector512.MaxNative(v9, v10); v9 = t;
        t = Vector512.MinNative(v11, v12); v12 = Vector512.MaxNative(v11, v12); v11 = t;
        v13 = Vector512.MinNative(v13, v14);
        t = Vector512.MinNative(v17, v18); v18 = Vector512.MaxNative(v17, v18); v17 = t;
        t = Vector512.MinNative(v19, v20); v20 = Vector512.MaxNative(v19, v20); v19 = t;
        t = Vector512.MinNative(v21, v22); v22 = Vector512.MaxNative(v21, v22); v21 = t;
        t = Vector512.MinNative(v23, v24); v24 = Vector512.MaxNative(v23, v24); v23 = t;
        v16 = Vector512.MaxNative(v0, v16);
        v17 = Vector512.MaxNative(v1, v17);
        v18 = Vector512.MaxNative(v2, v18);
        v19 = Vector512.MaxNative(v3, v19);
        v20 = Vector512.MaxNative(v4, v20);
        v21 = Vector512.MaxNative(v5, v21);
        v6 = Vector512.MinNative(v6, v22);
        v7 = Vector512.MinNative(v7, v23);
        v8 = Vector512.MinNative(v8, v24);
        v16 = Vector512.MaxNative(v8, v16);
        v17 = Vector512.MaxNative(v9, v17);
        v10 = Vector512.MinNative(v10, v18);
        v11 = Vector512.MinNative(v11, v19);
        v12 = Vector512.MinNative(v12, v20);
        v13 = Vector512.MinNative(v13, v21);
        v10 = Vector512.MaxNative(v6, v10);
        v11 = Vector512.MaxNative(v7, v11);
        v12 = Vector512.MinNative(v12, v16);
        v13 = Vector512.MinNative(v13, v17);
        v12 = Vector512.MaxNative(v10, v12);
        v11 = Vector512.MinNative(v11, v13);
        v12 = Vector512.MaxNative(v11, v12);
        return v12;
    }
}
