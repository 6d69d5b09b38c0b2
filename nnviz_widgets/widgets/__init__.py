"""The widgets a user displays: the TrainingExplorer, the Playground and training controls."""
