/// <summary>Summaries the benchmarks of this project print.</summary>
internal static class Statistics
{
    /// <summary>The middle value; the mean of the two middle ones for an even count.</summary>
    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
