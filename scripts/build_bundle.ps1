# Build the standalone app on Windows (x86-64) with PyInstaller, from a clone, with
# only Python 3.10+ (the `py` launcher) and the package index:
#
#   powershell -ExecutionPolicy Bypass -File scripts\build_bundle.ps1
#
# The same steps as scripts/build_bundle.sh: its own build environment
# (build\bundle-venv), packaging\bundle-requirements.txt and the project installed
# there, packaging\emotion_detector.spec, and
#   dist\EmotionDetector-<version>-windows-x86_64.zip   (one folder EmotionDetector\)
# Not tested by CI (docs/bundle.md). $env:PYTHON picks the interpreter (default: py -3).
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$Root = (Get-Location).Path
$Venv = Join-Path $Root "build\bundle-venv"
$Dist = Join-Path $Root "dist"
$Work = Join-Path $Root "build\pyinstaller"

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "build_bundle: $Exe $($Arguments -join ' ') failed ($LASTEXITCODE)" }
}

$Version = (Select-String -Path "app\__init__.py" -Pattern '^__version__ = "([^"]+)"').Matches[0].Groups[1].Value
$env:PIP_DISABLE_PIP_VERSION_CHECK = "1"; $env:PIP_NO_INPUT = "1"; $env:PIP_PROGRESS_BAR = "off"

if (-not (Test-Path "$Venv\Scripts\python.exe")) {
    Write-Host "making the build environment $Venv"
    if ($env:PYTHON) { Invoke-Checked $env:PYTHON @("-m", "venv", $Venv) }
    else { Invoke-Checked "py" @("-3", "-m", "venv", $Venv) }
}
$Py = "$Venv\Scripts\python.exe"
Invoke-Checked $Py @("-c", "import sys; sys.exit(sys.version_info < (3, 10))")
Write-Host "installing packaging\bundle-requirements.txt and the project"
Invoke-Checked $Py @("-m", "pip", "install", "--quiet", "-r", "packaging\bundle-requirements.txt")
Invoke-Checked $Py @("-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", $Root)
# (pip's "not found" warning on stderr must not stop the script: Continue here)
$ErrorActionPreference = "Continue"
foreach ($unwanted in @("tensorflow", "tensorflow-cpu", "opencv-python")) {
    & $Py -m pip show --quiet $unwanted *> $null
    if ($LASTEXITCODE -eq 0) { throw "build_bundle: $unwanted is installed in $Venv; remove that folder and rerun" }
}
$ErrorActionPreference = "Stop"

Write-Host "running PyInstaller (packaging\emotion_detector.spec)"
Remove-Item -Recurse -Force -ErrorAction SilentlyContinue "$Dist\EmotionDetector"
# run from build\: the clone's app\ and model\ must not shadow the installed project
Push-Location (Join-Path $Root "build")
try {
    Invoke-Checked "$Venv\Scripts\pyinstaller.exe" @("--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", $Dist, "--workpath", $Work, (Join-Path $Root "packaging\emotion_detector.spec"))
} finally { Pop-Location }

$Archive = Join-Path $Dist "EmotionDetector-$Version-windows-x86_64.zip"
Remove-Item -Force -ErrorAction SilentlyContinue $Archive
Compress-Archive -Path "$Dist\EmotionDetector" -DestinationPath $Archive
Write-Host "done: $Archive"
