"""Fidelity: what a tiny model must carry and pass to behave like a real checkpoint in users' tests.

- `levels`: the validation levels (`load`, `forward`, `generate`, `pipeline`, `chat`, `train`) and
  how `--validate` selects them;
- `metadata`: general mechanisms that make a tiny checkpoint's metadata faithful (pad token, length
  limits, generation config, family generation tokens);
- `chat`: chat templates (family formats from `resources/chat.yaml`) and the `chat` level;
- `pipelines`: the `pipeline` level (every task whose auto class maps the architecture, inputs from
  `resources/pipeline-tasks.yaml`);
- `train`: the `train` level (one optimizer step with labels of the head's kind).
"""
