class Recorder:  # local untracked stand-in until main's Recorder is merged
    pass
