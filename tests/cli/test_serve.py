from cli.serve import process_commands


def test_api_process_gets_host_port_and_workers_from_settings(settings):
    custom = settings.model_copy(update={"api_workers": 3, "api_port": 8123, "api_host": "0.0.0.0"})
    api = process_commands(custom)["api"]
    assert api[api.index("--workers") + 1] == "3"
    assert api[api.index("--port") + 1] == "8123" and api[api.index("--host") + 1] == "0.0.0.0"
    assert "api.main:create_app" in api and "--factory" in api
