"""Generation engines and trainers. Qt-free; torch is imported inside the engine that needs it."""
