"""Headless Chromium logs in to the Django admin over HTTPS (test/browser_test.go).

Usage: django_admin.py BASE_URL. Loads BASE_URL/admin/login/, checks that the page and its
stylesheet came over HTTP/2 (the Navigation and Resource Timing APIs' nextHopProtocol),
logs in as admin/admin and checks that the admin index shows. Prints one JSON object:
{"login_protocol": ..., "css_protocol": ..., "css_ok": ..., "title": ...}; exits 1 on a
failure, with the reason on stderr.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main(base):
    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--ignore-certificate-errors", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    try:
        driver.get(base + "/admin/login/?next=/admin/")
        nav = driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].nextHopProtocol")
        css = driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter(e => e.name.endsWith('.css'))"
            ".map(e => [e.name, e.nextHopProtocol, e.responseStatus || 0])")
        # The admin's stylesheet applied: the login form's submit row is styled by it.
        css_ok = driver.execute_script(
            "return [...document.styleSheets].some(s => (s.href || '').includes('/static/admin/css/'))"
            " && getComputedStyle(document.querySelector('#header')).display !== ''")
        driver.find_element(By.NAME, "username").send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys("admin")
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        title = driver.title
        ok = "Site administration" in driver.page_source
        print(json.dumps({"login_protocol": nav, "css": css, "css_ok": bool(css_ok),
                          "title": title, "admin_index": ok}))
        return 0 if ok else 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
