"""Renders a chat template as transformers' apply_chat_template does (jinja2 sandbox with
trim_blocks and lstrip_blocks, transformers' tojson filter, raise_exception), for the reference
outputs ChatTemplateToolsTest compares Spindle's Jinjava rendering with.

    python3 render_reference.py qwen2.5-instruct.jinja tools-conversation.json > qwen2.5-instruct.tools.expected.txt
"""
import json
import sys

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' own filter (chat_template_utils.py): json.dumps without HTML escaping
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
template = env.from_string(open(sys.argv[1], encoding="utf-8").read())
conversation = json.load(open(sys.argv[2], encoding="utf-8"))
sys.stdout.write(template.render(messages=conversation["messages"], tools=conversation["tools"],
                                 add_generation_prompt=True, bos_token="", eos_token=""))
