"""Unit tests for bridge.loader (in process, with throwaway files)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from bridge.loader import LoadError, Model, load, resolve


@pytest.fixture
def module_dir(tmp_path: Path) -> Iterator[Path]:
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]


def write(folder: Path, text: str) -> Path:
    path = folder / f"m_{uuid.uuid4().hex[:8]}.py"
    path.write_text(text)
    return path


def test_function_by_path_with_sibling_import(module_dir: Path) -> None:
    sibling = f"sib_{uuid.uuid4().hex[:8]}"
    (module_dir / f"{sibling}.py").write_text("VALUE = 5\n")
    path = write(module_dir, f"from {sibling} import VALUE\ndef predict(image):\n    return image + VALUE\n")
    model = load(f"{path}:predict")
    assert model(1) == 6
    assert sys.path[0] == str(module_dir)


def test_file_is_not_modified_and_main_guard_does_not_run(module_dir: Path) -> None:
    text = "def predict(image):\n    return 1\nif __name__ == '__main__':\n    raise SystemExit('ran as main')\n"
    path = write(module_dir, text)
    assert load(f"{path}:predict")(None) == 1
    assert path.read_text() == text


def test_entry_and_setup_share_one_module(module_dir: Path) -> None:
    text = "STATE = {}\ndef load():\n    STATE['w'] = 3\ndef predict(image):\n    return STATE['w']\n"
    path = write(module_dir, text)
    assert load(f"{path}:predict", f"{path}:load")(None) == 3


@pytest.mark.parametrize(
    "signature, expect_state",
    [("image", False), ("image, state", True), ("image, state=None", True), ("*args", True), ("image, *, k=1", False)],
)
def test_state_goes_only_to_two_positional_parameters(module_dir: Path, signature: str, expect_state: bool) -> None:
    path = write(module_dir, f"def load():\n    return 'S'\ndef predict({signature}):\n    return locals()\n")
    model = load(f"{path}:predict", f"{path}:load")
    assert model.pass_state is expect_state


def test_setup_returning_none_passes_nothing(module_dir: Path) -> None:
    path = write(module_dir, "def load():\n    pass\ndef predict(image, state='default'):\n    return state\n")
    assert load(f"{path}:predict", f"{path}:load")(None) == "default"


def test_class_entry_is_instantiated_once_and_set_up(module_dir: Path) -> None:
    path = write(
        module_dir,
        "class M:\n"
        "    made = 0\n"
        "    def __init__(self):\n        M.made += 1\n        self.ok = False\n"
        "    def setup(self):\n        self.ok = True\n"
        "    def __call__(self, image):\n        return (self.ok, M.made, image)\n",
    )
    model = load(f"{path}:M")
    assert model(1) == (True, 1, 1) and model(2) == (True, 1, 2)


def test_dotted_module_entry(module_dir: Path) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    (module_dir / package).mkdir()
    (module_dir / package / "__init__.py").write_text("")
    text = "class Box:\n    @staticmethod\n    def predict(image):\n        return 'boxed'\n"
    (module_dir / package / "model.py").write_text(text)
    sys.path.insert(0, str(module_dir))
    assert load(f"{package}.model:Box.predict")(None) == "boxed"


def test_workdir_is_entered_and_put_on_sys_path(module_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(module_dir.parent)
    name = f"wd_{uuid.uuid4().hex[:8]}"
    (module_dir / f"{name}.py").write_text("import os\ndef predict(image):\n    return os.getcwd()\n")
    assert load(f"{name}:predict", workdir=str(module_dir))(None) == str(module_dir)


@pytest.mark.parametrize(
    "body, entry, stage, exc_type",
    [
        ("import not_a_module_anywhere_xyz\n", "predict", "import", ModuleNotFoundError),
        ("raise SystemExit(2)\n", "predict", "import", SystemExit),
        ("x = 1\n", "predict", "import", AttributeError),
        ("predict = 42\n", "predict", "import", TypeError),
        ("class M:\n    def __init__(self, needed): pass\n    def __call__(self, i): pass\n", "M", "setup", TypeError),
        (
            "class M:\n    def setup(self):\n        raise OSError('no gpu')\n    def __call__(self, i): pass\n",
            "M",
            "setup",
            OSError,
        ),
        ("class M:\n    pass\n", "M", "setup", TypeError),
    ],
)
def test_load_errors_name_their_stage(module_dir: Path, body: str, entry: str, stage: str, exc_type: type) -> None:
    path = write(module_dir, body)
    with pytest.raises(LoadError) as info:
        load(f"{path}:{entry}")
    assert info.value.stage == stage
    assert isinstance(info.value.cause, exc_type)


def test_setup_error_is_setup_stage(module_dir: Path) -> None:
    path = write(module_dir, "def load():\n    raise RuntimeError('weights missing')\ndef predict(i):\n    pass\n")
    with pytest.raises(LoadError) as info:
        load(f"{path}:predict", f"{path}:load")
    assert info.value.stage == "setup" and "weights missing" in str(info.value.cause)


@pytest.mark.parametrize("entry", ["no_colon.py", ":predict", "file.py:", "/nonexistent/dir/model.py:predict"])
def test_bad_entries_fail_at_import(entry: str) -> None:
    with pytest.raises(LoadError) as info:
        load(entry)
    assert info.value.stage == "import"


def test_resolve_returns_the_object(module_dir: Path) -> None:
    path = write(module_dir, "CONST = 7\n")
    assert resolve(f"{path}:CONST") == 7


def test_model_without_state_calls_with_image_only() -> None:
    assert Model(lambda image: image * 2)(4) == 8
    assert Model(lambda image, state: (image, state), state="s")(1) == (1, "s")


@pytest.mark.parametrize(
    "signature, setup, fine",
    [
        ("", False, False),
        ("image, spacing, depth", False, False),
        ("image, spacing", False, False),  # no setup: only the image is passed
        ("image, spacing", True, True),  # setup returns state: (image, state)
        ("image, *, threshold", False, False),  # a required keyword Bedside never passes
        ("image, upstream", False, True),  # upstream is passed by keyword
        ("image, spacing=1.0, *rest, **kw", False, True),
        ("*args", False, True),
    ],
)
def test_a_signature_bedside_cannot_call_is_refused_at_load(module_dir: Path, signature: str, setup: bool, fine: bool) -> None:
    path = write(module_dir, f"def load():\n    return 'S'\ndef predict({signature}):\n    return {{}}\n")
    if fine:
        load(f"{path}:predict", f"{path}:load" if setup else None)
        return
    with pytest.raises(LoadError) as info:
        load(f"{path}:predict", f"{path}:load" if setup else None)
    assert info.value.stage == "signature"
    message = str(info.value.cause)
    assert f"predict({signature})" in message and "cannot be called as predict(image" in message
    assert "Fix:" in message


def test_a_callable_class_instance_is_checked_without_self(module_dir: Path) -> None:
    path = write(module_dir, "class Net:\n    def __call__(self, image):\n        return {}\n"
                             "class Bad:\n    def __call__(self, image, extra):\n        return {}\n")
    load(f"{path}:Net")
    with pytest.raises(LoadError) as info:
        load(f"{path}:Bad")
    assert info.value.stage == "signature" and "(image, extra)" in str(info.value.cause)


def test_a_decorator_that_supplies_an_argument_is_not_refused(module_dir: Path) -> None:
    path = write(module_dir, "import functools\n"
                             "def with_model(fn):\n"
                             "    @functools.wraps(fn)\n"
                             "    def wrapper(image):\n"
                             "        return fn(image, 'weights')\n"
                             "    return wrapper\n"
                             "@with_model\n"
                             "def predict(image, model):\n"
                             "    return {'model': model}\n")
    assert load(f"{path}:predict")(None) == {"model": "weights"}
