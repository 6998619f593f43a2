"""The private attributes of Invoke's config read by ci/tasks/_invoke.py, pinned on this Invoke."""

from invoke import Config

from ci.tasks._invoke import layers, project_root


def test_each_layer_holds_its_data_and_its_file(project, monkeypatch):
    (project / "invoke.yaml").write_text("ci:\n  report_dir: from-project\n")
    (project / "runtime.yaml").write_text("ci:\n  lint:\n    format: false\n")
    monkeypatch.setenv("INVOKE_CI_REPORT_DIR", "from-environment")
    cfg = Config(project_location=str(project), runtime_path=str(project / "runtime.yaml"))
    cfg.load_project()
    cfg.load_runtime()
    cfg.load_collection({"ci": {"report_dir": "build/ci", "lint": {"format": True}}})
    cfg.load_shell_env()

    (runtime, runtime_file, _), (env, env_file, from_env), (proj, project_file, _), *_ = layers(cfg)
    assert runtime["ci"]["lint"]["format"] is False and runtime_file == str(project / "runtime.yaml")
    assert env["ci"]["report_dir"] == "from-environment" and env_file is None and from_env
    assert proj["ci"]["report_dir"] == "from-project" and project_file == str(project / "invoke.yaml")
    assert cfg.ci.report_dir == "from-environment"  # the order the layers come in is Invoke's


def test_the_project_root_is_the_folder_of_the_loaded_tasks(project):
    elsewhere = project / "elsewhere"  # not the current folder
    elsewhere.mkdir()
    assert project_root(Config(project_location=str(elsewhere))) == elsewhere
    assert project_root(Config()) == project  # no tasks.py loaded: the current folder
