using I3D.MLNet.Scoring;

namespace I3D.MLNet.Torch.Features;

/// <summary>What an <see cref="I3DFeatureTransformer"/> is, besides its weights (what its model zip stores as JSON):
/// nothing of the machine it ran on.</summary>
/// <param name="Stream">RGB or flow.</param>
/// <param name="InChannels">Input channels of the network (3 RGB, 2 flow).</param>
/// <param name="NumClasses">Classes of the network's logits layer.</param>
/// <param name="Endpoint">The pooled endpoint (<see cref="I3DFeatureNetwork.PooledFeatures"/> or an InceptionI3d endpoint name).</param>
/// <param name="PerClip">One vector per clip, or the mean over the row's clips.</param>
public sealed record I3DFeatureDescription(VideoStream Stream, int InChannels, int NumClasses, string Endpoint, bool PerClip);
