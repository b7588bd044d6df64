"""A simulator of the part of Stripe's API the service uses (contract section 12).

A dev and test component: `make run` and the tests start it when `GATEWAY_URL` does not
answer; `flask gateway simulator` starts it by hand. Never a production process.
"""
