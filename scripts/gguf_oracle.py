"""Dumps a GGUF file's header with llama.cpp's own Python reader (PyPI `gguf`), as JSON, for the
differential test of our parser: {version, tensor_count, kv: {key: value | {"len": n}}, tensors}."""
import json
import sys

from gguf import GGUFReader


def main(path):
    r = GGUFReader(path)
    kv = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        value = field.contents()
        kv[key] = {"len": len(value)} if isinstance(value, list) and len(value) > 16 else value
    tensors = [{"name": t.name, "shape": [int(d) for d in t.shape], "dtype": int(t.tensor_type)} for t in r.tensors]
    print(json.dumps({"version": int(r.fields["GGUF.version"].contents()), "tensor_count": len(r.tensors), "kv": kv,
                      "tensors": tensors, "data_offset": int(r.data_offset)}))


if __name__ == "__main__":
    main(sys.argv[1])
