"""ModuleRegistry: start-up validation naming the module at fault, dependency order, one cached
service per name (thread- and task-safe), guarded inter-module calls, health, and the seed's
own snippets run against it.

Services modules are real files in ``tmp_path`` imported through ``import_services``; each test
gets a package of its own (a uuid in its name) so ``sys.modules`` never mixes tests. Where the
import is not the point, an in-test importer hands the registry ``get_services()`` dicts.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import (
    ConfigError,
    ModuleCallError,
    ModuleDependencyError,
    ServiceUnavailableError,
)
from lockgate.models.module import ModuleDeclaration
from lockgate.use_cases.modules.declarations import dependency_order, modules_from_dict
from lockgate.use_cases.modules.loader import import_services
from lockgate.use_cases.modules.registry import ModuleRegistry
from tests.support import ManualClock

# The seed's services, as its modules would write them (``get_services()`` returns classes).
USERS = """
class UserService:
    USERS = {
        1: {"id": 1, "name": "Pat", "is_active": True, "therapist": False},
        2: {"id": 2, "name": "Dr Lee", "is_active": True, "therapist": True},
        3: {"id": 3, "name": "Gone", "is_active": False, "therapist": False},
    }
    limit = 10

    def get_user_by_id(self, user_id):
        return self.USERS.get(user_id)

    def get_user_profile(self, user_id):
        user = self.USERS.get(user_id)
        return None if user is None else {"name": user["name"]}

    def is_user_therapist(self, user_id):
        return bool(self.USERS.get(user_id, {}).get("therapist"))

    def find(self, *ids, active=None):
        users = [self.USERS[i] for i in ids if i in self.USERS]
        return [u["id"] for u in users if active is None or u["is_active"] == active]

    async def get_user_async(self, user_id):
        return self.USERS.get(user_id)

    def _internal(self):
        return "private"


class AuthenticationService:
    def authenticate_user(self, email, password):
        return email == "pat@example.com" and password == "pw"


def get_services():
    return {"UserService": UserService, "AuthenticationService": AuthenticationService}
"""

MENTALHEALTH = """
class TherapySessionService:
    def schedule_session(self, patient_id, therapist_id):
        return {"patient_id": patient_id, "therapist_id": therapist_id}


class DisorderService:
    pass


def get_services():
    return {"TherapySessionService": TherapySessionService, "DisorderService": DisorderService}
"""

NOTIFICATIONS = """
class EmailService:
    pass


class SMSService:
    pass


class NotificationService:
    pass


def get_services():
    return {
        "EmailService": EmailService,
        "SMSService": SMSService,
        "NotificationService": NotificationService,
    }
"""


class Code:
    """A package of its own in ``tmp_path`` holding one test's services modules."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.package = f"aura_{uuid.uuid4().hex[:12]}"
        (root / self.package).mkdir()
        (root / self.package / "__init__.py").write_text("", encoding="utf-8")

    def write(self, dotted: str, source: str) -> str:
        """Write ``PACKAGE.dotted`` (sub-packages made as needed); return its full name."""
        *folders, name = dotted.split(".")
        folder = self.root / self.package
        for part in folders:
            folder = folder / part
            folder.mkdir(exist_ok=True)
            (folder / "__init__.py").touch()
        (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        return f"{self.package}.{dotted}"

    def declare(
        self,
        key: str,
        source: str,
        *dependencies: str,
        provides: tuple[str, ...] = (),
    ) -> ModuleDeclaration:
        """A module whose services module ``PACKAGE.KEY.services`` holds ``source``."""
        return ModuleDeclaration(
            key=key,
            name=key.title(),
            services_module=self.write(f"{key}.services", source),
            dependencies=dependencies,
            provides=provides,
            code_dir=self.root,
        )

    def aura_modules(self) -> dict[str, dict[str, Any]]:
        """The seed's ``AURA_MODULES``, its ``aura`` package renamed to this test's."""
        return {
            "users": {
                "name": "User Management",
                "services_module": f"{self.package}.users.services",
                "dependencies": [],  # No dependencies
                "provides": ["UserService", "AuthenticationService"],
            },
            "mentalhealth": {
                "name": "Mental Health",
                "services_module": f"{self.package}.mentalhealth.domain.services",
                "dependencies": ["users"],  # Can call users module
                "provides": ["TherapySessionService", "DisorderService"],
            },
            "notifications": {
                "name": "Notifications",
                "services_module": f"{self.package}.notifications.services",
                "dependencies": ["users"],  # Can call users module
                "provides": ["EmailService", "SMSService", "NotificationService"],
            },
        }


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Code]:
    """This test's package; ``sys.path`` and ``sys.modules`` are put back afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    made = Code(tmp_path)
    yield made
    for name in [n for n in sys.modules if n.partition(".")[0] == made.package]:
        del sys.modules[name]


@pytest.fixture
def gateway(code: Code) -> ModuleRegistry:
    """The seed's three modules, declared with its dict, loaded and initialised."""
    code.write("users.services", USERS)
    code.write("mentalhealth.domain.services", MENTALHEALTH)
    code.write("notifications.services", NOTIFICATIONS)
    registry = ModuleRegistry(
        modules_from_dict(code.aura_modules(), code_dir=code.root), import_services
    )
    registry.load()
    registry.initialise()
    return registry


def declare(key: str, *dependencies: str, provides: tuple[str, ...] = ()) -> ModuleDeclaration:
    return ModuleDeclaration(
        key=key,
        name=key.title(),
        services_module=f"app.{key}.services",
        dependencies=dependencies,
        provides=provides,
    )


def build(
    services: Mapping[str, Mapping[str, Any]],
    dependencies: Mapping[str, tuple[str, ...]] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ModuleRegistry:
    """A loaded registry whose importer returns ``services[key]`` (import is not the point)."""
    declarations = {key: declare(key, *(dependencies or {}).get(key, ())) for key in services}
    registry = ModuleRegistry(declarations, lambda d: services[d.key], clock=clock)
    registry.load()
    return registry


def config_error(action: Callable[[], object]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        action()
    assert isinstance(caught.value, ValueError)
    assert str(caught.value.fields["key"]).startswith("modules")
    return caught.value


# --- start-up validation ------------------------------------------------------------------------


def test_an_unknown_dependency_names_the_module_and_what_it_depends_on() -> None:
    declarations = {"users": declare("users"), "mentalhealth": declare("mentalhealth", "billing")}
    error = config_error(lambda: ModuleRegistry(declarations, lambda d: {}))
    assert "'mentalhealth'" in error.message
    assert "'billing'" in error.message
    assert "not declared" in error.message


@pytest.mark.parametrize(
    ("graph", "path"),
    [
        ({"a": ("b",), "b": ("a",)}, "a -> b -> a"),
        ({"x": ("y",), "y": ("z",), "z": ("x",)}, "x -> y -> z -> x"),
        ({"base": (), "a": ("base", "b"), "b": ("a",)}, "a -> b -> a"),
    ],
)
def test_a_cycle_is_refused_showing_its_path(graph: dict[str, tuple[str, ...]], path: str) -> None:
    declarations = {key: declare(key, *deps) for key, deps in graph.items()}
    error = config_error(lambda: dependency_order(declarations))
    assert "cycle" in error.message
    assert path in error.message
    config_error(lambda: ModuleRegistry(declarations, lambda d: {}))


def test_a_module_depending_on_itself_is_named() -> None:
    declarations = {"users": declare("users", "users")}
    error = config_error(lambda: ModuleRegistry(declarations, lambda d: {}))
    assert "'users'" in error.message
    assert "itself" in error.message


def test_every_dependency_problem_is_reported_at_once() -> None:
    declarations = {
        "users": declare("users", "users"),
        "mentalhealth": declare("mentalhealth", "users", "billing"),
        "notifications": declare("notifications", "sms_gateway"),
    }
    error = config_error(lambda: dependency_order(declarations))
    for fragment in ("'users'", "itself", "'mentalhealth'", "'billing'", "'sms_gateway'"):
        assert fragment in error.message


def test_a_provided_service_get_services_does_not_return_is_named(code: Code) -> None:
    only_users = (
        "class UserService:\n    pass\n\n"
        "def get_services():\n    return {'UserService': UserService}\n"
    )
    users = code.declare("users", only_users, provides=("UserService", "AuthenticationService"))
    registry = ModuleRegistry({"users": users}, import_services)
    error = config_error(registry.load)
    assert "module 'users'" in error.message
    assert "'AuthenticationService'" in error.message
    assert users.services_module in error.message
    assert "UserService" in error.message  # what it does return


BROKEN_SERVICES = {
    "syntax error": ("def get_services(:\n    return {}\n", "SyntaxError"),
    "missing import inside": (
        "import lockgate_no_such_package_zz\n\ndef get_services():\n    return {}\n",
        "lockgate_no_such_package_zz",
    ),
    "ImportError inside": (
        "from os import no_such_name_zz\n\ndef get_services():\n    return {}\n",
        "ImportError",
    ),
    "raises at import": ("raise RuntimeError('boom while importing')\n", "boom while importing"),
    "no get_services": ("class UserService:\n    pass\n", "get_services"),
    "get_services not callable": ("get_services = {'UserService': object}\n", "get_services"),
    "get_services returns a list": (
        "def get_services():\n    return ['UserService']\n",
        "get_services() must return",
    ),
    "get_services returns non-callables": (
        "def get_services():\n    return {'UserService': 42}\n",
        "get_services() must return",
    ),
    "get_services raises": (
        "def get_services():\n    raise LookupError('no settings for users')\n",
        "no settings for users",
    ),
}


@pytest.mark.parametrize(("source", "fragment"), BROKEN_SERVICES.values(), ids=BROKEN_SERVICES)
def test_a_services_module_that_does_not_load_is_named(
    code: Code, source: str, fragment: str
) -> None:
    users = code.declare("users", source, provides=("UserService",))
    fine = code.declare("notifications", NOTIFICATIONS)
    registry = ModuleRegistry({"users": users, "notifications": fine}, import_services)
    error = config_error(registry.load)
    assert "module 'users'" in error.message
    assert users.services_module in error.message
    assert fragment in error.message
    assert "notifications" not in error.message


def test_a_services_module_that_does_not_exist_is_named(code: Code) -> None:
    missing = ModuleDeclaration(
        key="users", name="Users", services_module=f"{code.package}.nowhere", code_dir=code.root
    )
    error = config_error(ModuleRegistry({"users": missing}, import_services).load)
    assert "module 'users'" in error.message
    assert f"{code.package}.nowhere" in error.message


def test_every_load_problem_is_reported_at_once(code: Code) -> None:
    declarations = {
        "users": code.declare("users", USERS, provides=("UserService",)),
        "syntax": code.declare("syntax", "def get_services(:\n"),
        "imports": code.declare("imports", "import lockgate_no_such_package_zz\n"),
        "nothing": code.declare("nothing", "X = 1\n"),
        "promises": code.declare("promises", MENTALHEALTH, provides=("BillingService",)),
    }
    error = config_error(ModuleRegistry(declarations, import_services).load)
    for key in ("syntax", "imports", "nothing", "promises"):
        assert f"module {key!r}" in error.message
    assert "'BillingService'" in error.message
    assert "module 'users'" not in error.message


# --- dependency order ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "order"),
    [
        ({"x": (), "y": (), "z": ()}, ["x", "y", "z"]),
        ({"a": ("b", "c"), "b": ("c",), "c": ()}, ["c", "b", "a"]),
        ({"a": ("b",), "b": (), "c": ()}, ["b", "a", "c"]),
        (
            {"notifications": ("users",), "mentalhealth": ("users",), "users": ()},
            ["users", "notifications", "mentalhealth"],
        ),
    ],
)
def test_dependencies_come_first_and_ties_keep_declaration_order(
    graph: dict[str, tuple[str, ...]], order: list[str]
) -> None:
    declarations = {key: declare(key, *deps) for key, deps in graph.items()}
    assert dependency_order(declarations) == order
    assert ModuleRegistry(declarations, lambda d: {}).order == order


def test_modules_initialise_in_dependency_order() -> None:
    made: list[str] = []

    def service(label: str) -> Callable[[], object]:
        def make() -> object:
            made.append(label)
            return object()

        return make

    services = {
        "mentalhealth": {"TherapySessionService": service("mentalhealth.TherapySessionService")},
        "notifications": {"EmailService": service("notifications.EmailService")},
        "users": {
            "UserService": service("users.UserService"),
            "AuthenticationService": service("users.AuthenticationService"),
        },
    }
    registry = build(services, {"mentalhealth": ("users",), "notifications": ("users",)})
    assert made == []  # load imports; it makes nothing
    registry.initialise()
    assert made == [
        "users.UserService",
        "users.AuthenticationService",
        "mentalhealth.TherapySessionService",
        "notifications.EmailService",
    ]


# --- discovery ----------------------------------------------------------------------------------


def test_a_service_is_the_same_object_on_every_call(gateway: ModuleRegistry) -> None:
    first = gateway.get_module_service("users", "UserService")
    assert first is not None
    assert type(first).__name__ == "UserService"
    assert gateway.get_module_service("users", "UserService") is first
    assert gateway.require_service("users", "UserService") is first


def test_an_unknown_module_or_service_is_none(gateway: ModuleRegistry) -> None:
    assert gateway.get_module_service("billing", "BillingService") is None
    assert gateway.get_module_service("users", "BillingService") is None
    assert gateway.get_module_service("users", "userservice") is None


def test_services_are_made_lazily_when_initialise_was_not_called() -> None:
    made: list[int] = []

    def make() -> object:
        made.append(1)
        return object()

    registry = build({"users": {"UserService": make}})
    service = registry.get_module_service("users", "UserService")
    assert service is not None
    assert registry.get_module_service("users", "UserService") is service
    assert made == [1]


class SlowToMake:
    """A factory whose construction takes 50 ms and is counted."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> object:
        with self._lock:
            self.calls += 1
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("database is down")
        return object()


def ask_from_threads(registry: ModuleRegistry, count: int = 32) -> list[Any]:
    """``count`` threads released together, each asking for users.UserService."""
    barrier = threading.Barrier(count)

    def ask() -> Any:
        barrier.wait(timeout=30)
        return registry.get_module_service("users", "UserService")

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(ask) for _ in range(count)]
        return [future.result(timeout=60) for future in futures]


def test_32_threads_asking_at_once_construct_the_service_once() -> None:
    factory = SlowToMake()
    registry = build({"users": {"UserService": factory}})
    results = ask_from_threads(registry)
    assert factory.calls == 1
    assert results[0] is not None
    assert all(result is results[0] for result in results)


def test_32_threads_asking_at_once_for_a_failing_service_try_it_once() -> None:
    # The retry interval is there so a broken constructor is not hammered; the threads that
    # queued behind the first attempt must not each try again while the clock stands still.
    factory = SlowToMake(fail=True)
    registry = build({"users": {"UserService": factory}}, clock=ManualClock())
    assert ask_from_threads(registry) == [None] * 32
    assert factory.calls == 1


async def test_concurrent_tasks_construct_the_service_once() -> None:
    factory = SlowToMake()
    registry = build({"users": {"UserService": factory}})
    from_threads = await asyncio.gather(
        *(asyncio.to_thread(registry.get_module_service, "users", "UserService") for _ in range(32))
    )

    async def ask() -> Any:
        await asyncio.sleep(0)
        return registry.get_module_service("users", "UserService")

    from_tasks = await asyncio.gather(*(ask() for _ in range(32)))
    assert factory.calls == 1
    assert from_threads[0] is not None
    assert all(result is from_threads[0] for result in [*from_threads, *from_tasks])


def test_require_service_raises_for_what_does_not_exist(gateway: ModuleRegistry) -> None:
    with pytest.raises(ModuleCallError, match="billing"):
        gateway.require_service("billing", "BillingService")
    with pytest.raises(ModuleCallError, match="BillingService") as caught:
        gateway.require_service("users", "BillingService")
    assert "UserService" in caught.value.message  # what it does have
    assert caught.value.fields["module"] == "users"


# --- a constructor that raises ------------------------------------------------------------------


class Flaky:
    """A service whose constructor raises until ``broken`` is cleared."""

    broken = True
    attempts = 0

    def __init__(self) -> None:
        type(self).attempts += 1
        if type(self).broken:
            raise ConnectionError("database is down")


def test_a_failing_constructor_makes_only_its_module_unhealthy_until_fixed() -> None:
    clock = ManualClock()

    class Reports(Flaky):
        pass

    class UserService:
        def get_user_by_id(self, user_id: int) -> dict[str, int]:
            return {"id": user_id}

    registry = build(
        {"reports": {"ReportService": Reports}, "users": {"UserService": UserService}},
        {"reports": ("users",)},
        clock=clock,
    )
    registry.initialise()  # does not raise

    health = registry.get_module_health("reports")
    assert health["status"] == "unhealthy"
    assert "database is down" in health["message"]
    assert "ReportService" in health["message"]
    assert registry.get_module_service("reports", "ReportService") is None
    with pytest.raises(ServiceUnavailableError, match="database is down") as caught:
        registry.require_service("reports", "ReportService")
    assert caught.value.fields == {"module": "reports", "service": "ReportService"}

    # The other modules are untouched, and reports may still call them.
    assert registry.get_module_health("users")["status"] == "healthy"
    assert registry.inter_module_call("reports", "users", "UserService", "get_user_by_id", 7) == {
        "id": 7
    }

    # Fixed, but tried again only after the retry interval.
    Reports.broken = False
    attempts = Reports.attempts
    assert registry.get_module_service("reports", "ReportService") is None
    assert Reports.attempts == attempts
    clock.advance(60)
    service = registry.get_module_service("reports", "ReportService")
    assert isinstance(service, Reports)
    assert registry.get_module_service("reports", "ReportService") is service
    assert registry.get_module_health("reports")["status"] == "healthy"


# --- inter-module calls -------------------------------------------------------------------------


def test_an_allowed_call_returns_the_result(gateway: ModuleRegistry) -> None:
    user = gateway.inter_module_call("mentalhealth", "users", "UserService", "get_user_by_id", 2)
    assert user is not None
    assert user["name"] == "Dr Lee"
    found = gateway.inter_module_call(
        "notifications", "users", "UserService", "find", 1, 2, 3, active=True
    )
    assert found == [1, 2]


async def test_an_async_method_returns_an_awaitable(gateway: ModuleRegistry) -> None:
    pending = gateway.inter_module_call("mentalhealth", "users", "UserService", "get_user_async", 1)
    assert inspect.isawaitable(pending)
    assert (await pending)["name"] == "Pat"


def test_a_call_to_an_undeclared_module_is_refused_naming_all_three(
    gateway: ModuleRegistry,
) -> None:
    with pytest.raises(ModuleDependencyError) as caught:
        gateway.inter_module_call("mentalhealth", "notifications", "EmailService", "send")
    error = caught.value
    assert isinstance(error, ValueError)
    assert "'mentalhealth'" in error.message
    assert "'notifications'" in error.message
    assert "users" in error.message  # the allowed list
    assert error.fields == {
        "source": "mentalhealth",
        "target": "notifications",
        "allowed": ["users"],
    }


def test_an_empty_dependency_list_means_no_calls_at_all(gateway: ModuleRegistry) -> None:
    for target in ("mentalhealth", "notifications", "users"):
        with pytest.raises(ModuleDependencyError, match="none") as caught:
            gateway.inter_module_call("users", target, "EmailService", "send")
        assert caught.value.fields["allowed"] == []


def test_an_unknown_source_module_is_a_call_error(gateway: ModuleRegistry) -> None:
    with pytest.raises(ModuleCallError, match="billing") as caught:
        gateway.inter_module_call("billing", "users", "UserService", "get_user_by_id", 1)
    assert not isinstance(caught.value, ModuleDependencyError)


def test_an_unknown_target_module_is_refused(gateway: ModuleRegistry) -> None:
    # Nobody can declare a module that does not exist, so it is never an allowed target.
    with pytest.raises(ModuleCallError, match="billing"):
        gateway.inter_module_call("mentalhealth", "billing", "BillingService", "charge_session")


@pytest.mark.parametrize(
    ("service", "method", "named"),
    [
        ("BillingService", "charge", "BillingService"),
        ("UserService", "delete_everything", "delete_everything"),
        ("UserService", "_internal", "_internal"),
        ("UserService", "__init__", "__init__"),
        ("UserService", "limit", "limit"),  # an attribute, not a method
    ],
)
def test_unknown_services_and_methods_are_call_errors(
    gateway: ModuleRegistry, service: str, method: str, named: str
) -> None:
    with pytest.raises(ModuleCallError) as caught:
        gateway.inter_module_call("mentalhealth", "users", service, method)
    assert type(caught.value) is ModuleCallError
    assert named in caught.value.message
    assert gateway.call_counts() == {}


def test_a_call_to_a_service_that_cannot_be_made_is_unavailable() -> None:
    class Broken(Flaky):
        pass

    registry = build({"a": {}, "b": {"Broken": Broken}}, {"a": ("b",)}, clock=ManualClock())
    with pytest.raises(ServiceUnavailableError, match="database is down"):
        registry.inter_module_call("a", "b", "Broken", "anything")


def test_calls_are_counted_per_source_and_target_only_when_allowed(
    gateway: ModuleRegistry,
) -> None:
    for user_id in (1, 2):
        gateway.inter_module_call("mentalhealth", "users", "UserService", "get_user_by_id", user_id)
    gateway.inter_module_call("notifications", "users", "UserService", "is_user_therapist", 2)
    for source, target in (("users", "mentalhealth"), ("mentalhealth", "notifications")):
        with pytest.raises(ModuleDependencyError):
            gateway.inter_module_call(source, target, "EmailService", "send")
    counts = gateway.call_counts()
    assert counts == {("mentalhealth", "users"): 2, ("notifications", "users"): 1}
    counts.clear()  # a copy: the registry's own counts are untouched
    assert gateway.call_counts()[("mentalhealth", "users")] == 2


# --- the seed's own snippets, with ``gateway`` the registry -------------------------------------


def test_the_seed_snippets_run_as_written(gateway: ModuleRegistry) -> None:
    user_id = 1

    # Basic service retrieval.
    user_service = gateway.get_module_service("users", "UserService")
    if user_service:
        user_profile = user_service.get_user_profile(user_id)
    else:
        raise ServiceUnavailableError("User service not available")
    assert user_profile == {"name": "Pat"}

    # Dependency validation: "This will raise ValueError if mentalhealth module tries to call
    # billing module when billing is not in mentalhealth's dependencies".
    logged: list[str] = []
    try:
        result = gateway.inter_module_call(
            "mentalhealth", "billing", "BillingService", "charge_session"
        )
    except ValueError as e:
        logged.append(f"Dependency violation: {e}")
    assert len(logged) == 1
    assert "'mentalhealth'" in logged[0]
    assert "'billing'" in logged[0]

    # Best practice 3: the allowed call.
    result = gateway.inter_module_call(
        "mentalhealth", "users", "UserService", "get_user_by_id", user_id
    )
    assert result["is_active"] is True

    # Service caching.
    user_service1 = gateway.get_module_service("users", "UserService")
    user_service2 = gateway.get_module_service("users", "UserService")
    assert user_service1 is user_service2

    # Batch operations.
    results = {}
    for uid in [1, 2, 3, 4]:
        user = user_service.get_user_by_id(uid)
        results[uid] = user is not None and user.get("is_active", False)
    assert results == {1: True, 2: True, 3: False, 4: False}

    # Best practice 1: unavailability handled gracefully.
    service = gateway.get_module_service("billing", "BillingService")
    assert not service


def test_the_seed_error_handling_helpers(gateway: ModuleRegistry) -> None:
    def safe_service_call(
        module_name: str, service_name: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[Any, str | None]:
        try:
            service = gateway.get_module_service(module_name, service_name)
            if not service:
                return None, f"{module_name}.{service_name} not available"
            if not hasattr(service, method):
                return None, f"Method {method} not found on {service_name}"
            result = getattr(service, method)(*args, **kwargs)
            return result, None
        except Exception as e:
            return None, str(e)

    assert safe_service_call("users", "UserService", "is_user_therapist", 2) == (True, None)
    assert safe_service_call("billing", "BillingService", "charge") == (
        None,
        "billing.BillingService not available",
    )
    assert safe_service_call("users", "UserService", "nope") == (
        None,
        "Method nope not found on UserService",
    )


def test_the_seed_health_snippets(gateway: ModuleRegistry) -> None:
    health_status = gateway.get_module_health("users")
    assert health_status["status"] == "healthy"
    assert health_status["services"] == ["AuthenticationService", "UserService"]
    assert health_status["name"] == "User Management"

    def check_system_health() -> dict[str, Any]:
        all_modules = gateway.list_modules()
        healthy_modules = []
        unhealthy_modules = []
        for module_name, health in all_modules.items():
            if health["status"] == "healthy":
                healthy_modules.append(module_name)
            else:
                unhealthy_modules.append(
                    {"module": module_name, "error": health.get("message", "Unknown error")}
                )
        return {
            "healthy": healthy_modules,
            "unhealthy": unhealthy_modules,
            "total_modules": len(all_modules),
        }

    assert check_system_health() == {
        "healthy": ["users", "mentalhealth", "notifications"],
        "unhealthy": [],
        "total_modules": 3,
    }
    health_data = gateway.list_modules()
    overall_status = (
        "healthy"
        if all(module["status"] == "healthy" for module in health_data.values())
        else "degraded"
    )
    assert overall_status == "healthy"


def test_the_seed_dict_declares_the_modules(code: Code) -> None:
    declarations = modules_from_dict(code.aura_modules(), code_dir=code.root)
    assert list(declarations) == ["users", "mentalhealth", "notifications"]
    mental = declarations["mentalhealth"]
    assert mental.key == "mentalhealth"
    assert mental.name == "Mental Health"
    assert mental.services_module == f"{code.package}.mentalhealth.domain.services"
    assert mental.dependencies == ("users",)
    assert mental.provides == ("TherapySessionService", "DisorderService")
    assert mental.code_dir == code.root
    assert declarations["users"].dependencies == ()


def test_the_seed_modules_load_in_dependency_order(gateway: ModuleRegistry) -> None:
    assert gateway.order == ["users", "mentalhealth", "notifications"]
    assert [m.key for m in gateway.modules()] == gateway.order
    assert gateway.get_module_health("notifications") == {
        "status": "healthy",
        "name": "Notifications",
        "services": ["EmailService", "NotificationService", "SMSService"],
        "dependencies": ["users"],
        "message": "3 service(s) available",
    }


# --- health -------------------------------------------------------------------------------------


class HealthFalse:
    def health(self) -> bool:
        return False


class HealthRaises:
    def health(self) -> bool:
        raise ConnectionError("replica unreachable")


class HealthDictDown:
    def health(self) -> dict[str, str]:
        return {"status": "unhealthy", "message": "replication lag 40 s"}


class HealthDictUp:
    def health(self) -> dict[str, str]:
        return {"status": "healthy", "message": "fine"}


class HealthTrue:
    def health(self) -> bool:
        return True


class PingFalse:
    def ping(self) -> bool:
        return False


class PingRaises:
    def ping(self) -> None:
        raise TimeoutError("no pong from smtp")


class PingNone:
    def ping(self) -> None:
        return None


class NoCheck:
    pass


@pytest.mark.parametrize(
    ("service", "status", "fragment"),
    [
        (HealthFalse, "unhealthy", "health() returned False"),
        (HealthRaises, "unhealthy", "replica unreachable"),
        (HealthDictDown, "unhealthy", "replication lag 40 s"),
        (HealthDictUp, "healthy", "service(s) available"),
        (HealthTrue, "healthy", "service(s) available"),
        (PingFalse, "unhealthy", "ping() returned False"),
        (PingRaises, "unhealthy", "no pong from smtp"),
        (PingNone, "healthy", "service(s) available"),
        (NoCheck, "healthy", "1 service(s) available"),
    ],
)
def test_health_uses_the_service_own_check(service: type, status: str, fragment: str) -> None:
    registry = build({"users": {"UserService": service}, "other": {"Fine": NoCheck}})
    health = registry.get_module_health("users")
    assert health["status"] == status
    assert fragment in health["message"]
    assert health["services"] == ["UserService"]
    assert registry.get_module_health("other")["status"] == "healthy"


def test_one_unhealthy_service_makes_its_module_unhealthy_naming_it() -> None:
    registry = build({"users": {"UserService": NoCheck, "AuthenticationService": PingFalse}})
    health = registry.get_module_health("users")
    assert health["status"] == "unhealthy"
    assert "AuthenticationService" in health["message"]
    assert "UserService" not in health["message"]
    assert health["services"] == ["AuthenticationService", "UserService"]


def test_list_modules_covers_every_module_in_dependency_order() -> None:
    class Broken(Flaky):
        pass

    registry = build(
        {"notifications": {"Mail": PingRaises}, "reports": {"R": Broken}, "users": {"U": NoCheck}},
        {"notifications": ("users",), "reports": ("users",)},
        clock=ManualClock(),
    )
    registry.initialise()
    modules = registry.list_modules()
    assert list(modules) == ["users", "notifications", "reports"]
    assert {key: m["status"] for key, m in modules.items()} == {
        "users": "healthy",
        "notifications": "unhealthy",
        "reports": "unhealthy",
    }
    assert "database is down" in modules["reports"]["message"]
    assert "no pong from smtp" in modules["notifications"]["message"]


def test_the_health_of_an_unknown_module_is_a_call_error(gateway: ModuleRegistry) -> None:
    with pytest.raises(ModuleCallError, match="billing") as caught:
        gateway.get_module_health("billing")
    assert "users" in caught.value.message  # the modules there are


def test_services_whose_constructors_ask_for_each_other_are_reported_not_deadlocked() -> None:
    holder: dict[str, ModuleRegistry] = {}

    class A:
        def __init__(self) -> None:
            self.b = holder["r"].get_module_service("users", "B")

    class B:
        def __init__(self) -> None:
            self.a = holder["r"].get_module_service("users", "A")

    registry = build({"users": {"A": A, "B": B}})
    holder["r"] = registry
    registry.initialise()  # returns: the cycle is cut, not waited on forever
    assert registry.get_module_service("users", "A") is None
    health = registry.get_module_health("users")
    assert health["status"] == "unhealthy"
    assert "its construction asks for itself: users.A -> users.B -> users.A" in health["message"]


async def test_a_hung_synchronous_health_check_is_reported_without_stalling_the_loop() -> None:
    release = threading.Event()

    class Stuck:
        def health(self) -> bool:
            release.wait(5)
            return True

    registry = build({"users": {"Stuck": Stuck}})
    registry.initialise()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    try:
        report = await registry.check_module_health("users", check_timeout=0.2)
    finally:
        release.set()
        ticker.cancel()
    assert report["status"] == "unhealthy"
    assert "no answer within 0.2 s" in report["message"]
    assert ticks > 1  # the loop kept running while the check hung
