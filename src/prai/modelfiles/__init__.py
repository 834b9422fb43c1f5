"""Model files: the one reader of model directories, safetensors headers, tokenizer files
and PEFT adapters, from files alone (no torch), used by bundle, serve's preflight, render
and doctor alike: one :class:`~prai.modelfiles.model_dir.ModelFacts`, one
:class:`~prai.modelfiles.adapter.AdapterFacts`, one check of each. Imports nothing from
the capabilities."""
