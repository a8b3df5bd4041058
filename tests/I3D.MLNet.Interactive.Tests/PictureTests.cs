using I3D.MLNet.Interactive.Pictures;
using I3D.MLNet.Video;
using SkiaSharp;

namespace I3D.MLNet.Interactive.Tests;

public class PictureTests
{
    private static VideoFrames RandomVideo(int frames, int height, int width, int seed)
    {
        var video = new VideoFrames(FrameElementKind.Rgb24, frames, height, width) { FramesPerSecond = 25, Source = "random" };
        new Random(seed).NextBytes(video.Bytes);
        return video;
    }

    private static SKBitmap Decode(Picture picture) =>
        SKBitmap.Decode(picture.Bytes) ?? throw new InvalidOperationException($"SkiaSharp cannot decode {picture}");

    [Fact]
    public void StripHoldsTheChosenFramesPixelForPixel()
    {
        var video = RandomVideo(frames: 10, height: 12, width: 16, seed: 1);
        var strip = ClipPicture.Strip(video, maxFrames: 4, height: 12);
        Assert.Equal("image/png", strip.MimeType);
        using var bitmap = Decode(strip);
        Assert.Equal((4 * 16 + 3 * 4, 12), (bitmap.Width, bitmap.Height));
        int[] picks = ClipPicture.Picks(10, 4);
        Assert.Equal([0, 3, 6, 9], picks);
        for (int column = 0; column < 4; column++)
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 16; x++)
                {
                    var source = video.FrameBytes(picks[column]).Slice((y * 16 + x) * 3, 3);
                    var pixel = bitmap.GetPixel(column * 20 + x, y);
                    Assert.Equal((source[0], source[1], source[2]), (pixel.Red, pixel.Green, pixel.Blue));
                }
    }

    [Fact]
    public void StripsStackRowsAndScaleByNearestNeighbour()
    {
        var video = RandomVideo(frames: 3, height: 4, width: 6, seed: 2);
        var strip = ClipPicture.Strips([video, video], maxFrames: 8, height: 8);
        using var bitmap = Decode(strip);
        Assert.Equal((3 * 12 + 2 * 4, 2 * 8 + 4), (bitmap.Width, bitmap.Height));
        // Pixel (x, y) of a frame doubled in size comes from source pixel (x / 2, y / 2); second row equal to the first.
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 12; x++)
            {
                var source = video.FrameBytes(2).Slice((y / 2 * 6 + x / 2) * 3, 3);
                foreach (int y0 in new[] { 0, 12 })
                {
                    var pixel = bitmap.GetPixel(2 * 16 + x, y0 + y);
                    Assert.Equal((source[0], source[1], source[2]), (pixel.Red, pixel.Green, pixel.Blue));
                }
            }
    }

    [Fact]
    public void ClipValuesMapBackFromMinusOneToOne()
    {
        // C x T x H x W = 3 x 2 x 1 x 2: -1 -> 0, 0 -> 128 (127.5 rounded half to even -> 128), 1 -> 255.
        float[] values = [-1, 1, 0, 0, /* G */ 1, -1, 0, 1, /* B */ 0, 0, -1, -1];
        var clip = Clip.From(values, [3, 2, 1, 2]);
        using var bitmap = Decode(ClipPicture.Strip(clip, height: 1));
        Assert.Equal((0, 255, 128), (bitmap.GetPixel(0, 0).Red, bitmap.GetPixel(0, 0).Green, bitmap.GetPixel(0, 0).Blue));
        Assert.Equal((255, 0, 128), (bitmap.GetPixel(1, 0).Red, bitmap.GetPixel(1, 0).Green, bitmap.GetPixel(1, 0).Blue));
        Assert.Equal((128, 128, 0), (bitmap.GetPixel(2 + 4, 0).Red, bitmap.GetPixel(2 + 4, 0).Green, bitmap.GetPixel(2 + 4, 0).Blue));
    }

    [Fact]
    public void FlowIsColouredByDirection()
    {
        // Uniform motion to the right, then upwards (image y grows downwards: up is negative y), 2 x 2 x 3 x 3.
        var values = new float[2 * 2 * 9];
        for (int p = 0; p < 9; p++)
        {
            values[0 * 18 + 0 * 9 + p] = 0.5f;  // x, frame 0
            values[1 * 18 + 1 * 9 + p] = -0.5f; // y, frame 1
        }
        using var bitmap = Decode(ClipPicture.Strip(Clip.From(values, [2, 2, 3, 3]), height: 3));
        var right = bitmap.GetPixel(1, 1);
        var up = bitmap.GetPixel(3 + 4 + 1, 1);
        Assert.Equal((255, 0, 0), (right.Red, right.Green, right.Blue)); // the Middlebury wheel: right is red
        Assert.True(up.Blue == 255 && up.Green < 30 && up.Red < 128, $"upwards should be blue-violet, got {up}");
    }

    [Fact]
    public void AnimatedGifDecodesToThePaletteColoursOfEveryFrame()
    {
        // Random pixels compress badly: the LZW table fills and restarts many times, which the decoder must follow.
        var video = RandomVideo(frames: 3, height: 90, width: 120, seed: 3);
        var gif = ClipPicture.Animation(video, height: 90);
        Assert.Equal("image/gif", gif.MimeType);
        using var codec = SKCodec.Create(new MemoryStream(gif.Bytes)) ?? throw new InvalidOperationException("SkiaSharp cannot read the GIF");
        Assert.Equal(3, codec.FrameCount);
        Assert.Equal(40, codec.FrameInfo[0].Duration); // 25 fps
        var info = new SKImageInfo(120, 90, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int f = 0; f < 3; f++)
        {
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels(), new SKCodecOptions(f)));
            var frame = video.FrameBytes(f);
            int worst = 0;
            for (int p = 0; p < 120 * 90; p++)
            {
                byte r = frame[p * 3], g = frame[p * 3 + 1], b = frame[p * 3 + 2];
                var expected = GifEncoder.PaletteColour(GifEncoder.PaletteIndex(r, g, b));
                var pixel = bitmap.GetPixel(p % 120, p / 120);
                Assert.Equal(expected, (pixel.Red, pixel.Green, pixel.Blue));
                worst = Math.Max(worst, Math.Max(Math.Abs(pixel.Red - r), Math.Max(Math.Abs(pixel.Green - g), Math.Abs(pixel.Blue - b))));
            }
            Assert.InRange(worst, 0, 26); // half a step of the 6-level channels (51 / 2)
        }
    }

    [Fact]
    public void BadShapesAreRefusedWithTheirNumbers()
    {
        var e = Assert.Throws<ArgumentException>(() => Clip.From(new float[10], [3, 2, 2, 2]));
        Assert.Contains("10 values", e.Message);
        Assert.Contains("[1, 3, 2, 2, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => ClipPicture.Strip(Clip.From(new float[4 * 2 * 2], [4, 1, 2, 2])));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipPicture.Strip(RandomVideo(2, 2, 2, 4), maxFrames: 0));
    }
}
