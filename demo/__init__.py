"""Demo and benchmark data: `flask --app app demo seed` and `flask --app app demo fleet`.

Not part of the application: no application package imports it; only `app.py` registers its
command group. Its data goes through the services and the pure rules and record builders the
application uses, so a change to a rule needs no second edit here.
"""
