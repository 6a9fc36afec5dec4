"""End to end in headless Chromium (Debian's chromium + chromium-driver, scripts/install-browser): an operator
logs in, browses every list, filters, opens an evaluation, decides two actions in the review queue and looks at
a moderator's chart. Screenshots of the main pages go to test-artifacts/ (git-ignored)."""

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from moderation.models import ActionEvent, ActionReview, ActionStatus, ActionType
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory, UserFactory, message_context

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "a long test password 42"


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium is missing: run `bash scripts/install-browser` as root (make test does)")
    profile = tempfile.mkdtemp(prefix="gova-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(transactional_db):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    operator.set_password(PASSWORD)
    operator.save()
    UserFactory(username="customer", pricing_tier="pro", stripe_customer_id="cus_42", verified_at=timezone.now(),
                discord_oauth_payload={"access_token": "never-shown"})  # fmt: skip
    moderator = ModeratorFactory(name="Valorant guard", platform_server_id="586442745736103017")
    actions = []
    for n, (severity, content) in enumerate([(0.92, "I will find you"), (0.75, "FREE NITRO discord-gift.example")]):
        evaluation = EvaluationEventFactory(
            moderator=moderator, platform_user_id=f"8231027387370410{n}", severity_score=severity,
            behaviour_score=severity / 2, context=message_context(content=content, username=f"author{n}"),
        )  # fmt: skip
        actions.append(
            ActionEventFactory(
                evaluation=evaluation,
                platform_user_id=evaluation.platform_user_id,
                context=evaluation.context,
                action_type=ActionType.TIMEOUT,
                action_params={"duration": 600},
            )  # fmt: skip
        )
    for day in range(10):
        EvaluationEventFactory(
            moderator=moderator, severity_score=0.1, created_at=timezone.now() - timedelta(days=day),
            context=message_context(content=f"gg everyone {day}", username="friendly"),
        )  # fmt: skip
    return {"moderator": moderator, "actions": actions}


def click_and_wait(browser, element) -> None:
    """Click something that loads a new page and wait until it has: finding elements right after a plain click
    can still read the old page (CI once saw the login page's title after a successful login)."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(old_page))


def shoot(browser, name: str) -> None:
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_an_operator_works_the_console_in_a_browser(browser, live_server, console):
    def visit(name):
        browser.get(live_server.url + reverse(name))

    visit("admin:index")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    assert "Site administration" in browser.title
    shoot(browser, "01-index")

    # Every list.
    for name, expected in [
        ("accounts_user", "cus_42"),
        ("moderation_moderator", "Valorant guard"),
        ("moderation_evaluationevent", "gg everyone 0"),
        ("moderation_actionevent", "Awaiting approval"),
    ]:
        visit(f"admin:{name}_changelist")
        assert expected in browser.find_element(By.ID, "result_list").text, name
        assert "never-shown" not in browser.page_source
        shoot(browser, f"02-{name}")

    # Filter evaluations to high severity: only the two severe messages stay.
    visit("admin:moderation_evaluationevent_changelist")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "high (≥ 0.7)"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 2 and "gg everyone" not in browser.find_element(By.ID, "result_list").text
    shoot(browser, "03-evaluations-high-severity")

    # Open an evaluation: the message pulled out of its context, its action inline.
    click_and_wait(browser, rows[0].find_element(By.CSS_SELECTOR, "th a"))
    body = browser.find_element(By.ID, "content").text
    assert "FREE NITRO" in body or "I will find you" in body
    assert "Timeout" in body
    shoot(browser, "04-evaluation")

    # The review queue: most severe first; approve the first, reject the second, each with a reason.
    visit("admin:moderation_reviewqueueitem_changelist")
    shoot(browser, "05-review-queue")
    first, second = console["actions"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert "I will find you" in rows[0].text and "FREE NITRO" in rows[1].text
    browser.find_element(By.NAME, f"reason-{first.pk}").send_keys("a threat")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, f"button[value='approve:{first.pk}']"))
    assert "1 action(s) decided: 1 completed" in browser.find_element(By.CLASS_NAME, "messagelist").text
    browser.find_element(By.NAME, f"reason-{second.pk}").send_keys("a known bot, handled elsewhere")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, f"button[value='reject:{second.pk}']"))
    assert "1 action(s) decided: 1 rejected" in browser.find_element(By.CLASS_NAME, "messagelist").text
    shoot(browser, "06-review-queue-decided")
    assert ActionEvent.objects.get(pk=first.pk).status == ActionStatus.COMPLETED
    assert ActionEvent.objects.get(pk=second.pk).status == ActionStatus.REJECTED
    assert set(ActionReview.objects.values_list("reason", flat=True)) == {"a threat", "a known bot, handled elsewhere"}

    # The decided action's page shows its review log.
    browser.get(live_server.url + reverse("admin:moderation_actionevent_change", args=[second.pk]))
    assert "a known bot, handled elsewhere" in browser.find_element(By.ID, "content").text
    shoot(browser, "07-action-with-review-log")

    # The moderator's page: the activity chart, severity bands and the leaderboard.
    browser.get(live_server.url + reverse("admin:moderation_moderator_change", args=[console["moderator"].pk]))
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.gova-chart")
    assert len(charts) == 2 and charts[0].size["height"] > 100
    assert len(charts[0].find_elements(By.TAG_NAME, "rect")) >= 10  # bars for the days with events
    assert "author0" in browser.find_element(By.ID, "behaviour-leaderboard").text
    browser.execute_script("document.getElementById('insight').scrollIntoView()")
    shoot(browser, "08-moderator-insight")
