namespace I3D.MLNet.Video;

/// <summary>A video file could not be decoded; the message names the file and what is wrong with it.</summary>
public sealed class VideoDecodeException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner)
{
    /// <summary>The file that failed.</summary>
    public string Path { get; } = path;

    /// <summary>What is wrong with it (the message without the path).</summary>
    public string Problem { get; } = problem;
}
