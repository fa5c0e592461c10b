"""Policies: an organisation's rules, written as JSON Schemas, checked on every config and on every plan.

load      policies/*.yaml, the paths under ``policies:``, the built-in packs ``extends`` names, and the waivers
subjects  what a rule sees: each provider, model and template as rendered (secrets masked), each plan change
evaluate  each rule on each subject it matches: ``Diagnostic`` findings at the offending value's file:line:col
waivers   exceptions with a reason and an expiry date; one that lacks either lets its finding fire again
"""
