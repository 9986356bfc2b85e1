"""The web pages of a campaign (school staff, coordinators, analysts): `app.create_app`.

`authz` decides who may do what, `security` holds passwords and tokens, `state` the cached
live allocation, `placement` the one-pupil placement ("placer ici"), `insight` what the pages
derive from the allocation. See docs/web.md.
"""
