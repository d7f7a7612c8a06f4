"""The theory engines: smooth loss families, the descent search, symbolic and proof engines, repairs,
continuous dynamics and trajectories, toy problems and the small-scale experiments."""
