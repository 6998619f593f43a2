// The dsci pipeline as a Jenkins shared library step: load this repository as a
// library whose path is jenkins/, then a project's whole Jenkinsfile is
//
//     @Library('dsci') _
//     dsciPipeline(recipients: 'team@example.com')
//
// Every stage calls one Invoke task; see dsciPipeline.txt for the options.

def call(Map config = [:]) {
    List stages = config.get('stages', ['git', 'lint', 'test', 'notebooks', 'isolation', 'data', 'model', 'onnx', 'package', 'sign', 'image', 'push', 'parity', 'deploy'])
    boolean tenants = config.get('tenants', false)  // each tenant of ci.tenants on an agent of its own, side by side
    List projectStages = config.get('projectStages', ['git', 'lint', 'test', 'notebooks'])  // with tenants: run once
    String tenantLabel = config.get('tenantLabel', '')  // the agents' label for the tenants' branches; '' any
    String requirement = config.get('requirement', 'dsci[all]')
    String image = config.get('image', '')  // run the stages in this Docker image (the sandbox); '' runs on the agent
    String credentials = config.get('registryCredentials', '')
    String reportCredentials = config.get('reportCredentials', '')  // a secret text: a token that may comment
    String signingCredentials = config.get('signingCredentials', '')  // a secret file: the key that signs
    String kubeconfigCredentials = config.get('kubeconfigCredentials', '')  // a secret file: a kubeconfig
    String release = config.get('release', '')  // an environment to promote to from main, once approved
    String promoteFrom = config.get('promoteFrom', 'staging')

    pipeline {
        agent any
        options {
            timestamps()
            timeout(time: config.get('timeoutMinutes', 120) as int, unit: 'MINUTES')
            buildDiscarder(logRotator(numToKeepStr: '30'))
            disableConcurrentBuilds()
        }
        triggers {
            cron(config.get('cron', 'H 2 * * *'))
        }
        environment {
            INVOKE_CI_DEPLOY_REMOTE = 'origin'  // a deploy records its release on the releases branch, pushed
        }
        stages {
            stage('setup') {
                steps {
                    dir('build/ci') { deleteDir() }  // the workspace keeps the stage cache, build/cache
                    script {
                        dsciRun(image, credentials, "python3 -m venv .venv && .venv/bin/python -m pip install --quiet '${requirement}'")
                    }
                }
            }
            stage('dsci') {
                steps {
                    script {
                        for (String name in (tenants ? stages.findAll { it in projectStages } : stages)) {
                            stage(name) {
                                if (name == 'sign' && signingCredentials) {  // the key's file is ci.security.key_file
                                    withCredentials([file(credentialsId: signingCredentials,
                                                          variable: 'INVOKE_CI_SECURITY_KEY_FILE')]) {
                                        dsciRun(image, credentials, '.venv/bin/invoke ci.sign')
                                    }
                                } else if (name == 'deploy') {  // from main only, to ci.deploy.environment
                                    if (env.BRANCH_NAME == 'main') {
                                        withKubeconfig(kubeconfigCredentials) {
                                            dsciRun(image, credentials, '.venv/bin/invoke ci.deploy')
                                        }
                                    }
                                } else {
                                    dsciRun(image, credentials, ".venv/bin/invoke ci.${name}")
                                }
                            }
                        }
                        if (tenants) {
                            stage('tenants') {
                                List names = dsciTenants(image)
                                List own = stages.findAll { !(it in projectStages) && (it != 'deploy' || env.BRANCH_NAME == 'main') }
                                def branches = [:]
                                for (String name in (own ? names : [])) {
                                    String tenant = name
                                    branches[tenant] = {
                                        dsciNode(tenantLabel) {
                                            checkout scm
                                            dir("build/ci/tenants/${tenant}") { deleteDir() }  // this build's report, or none
                                            dsciRun(image, credentials, "python3 -m venv .venv && .venv/bin/python -m pip install --quiet '${requirement}'")
                                            try {
                                                withSecretFile(signingCredentials, 'INVOKE_CI_SECURITY_KEY_FILE') {  // ci.security.key_file
                                                    withKubeconfig(kubeconfigCredentials) {
                                                        dsciRun(image, credentials, ".venv/bin/invoke ci.all --tenant ${tenant} --only ${own.join(',')}")
                                                    }
                                                }
                                            } finally {
                                                junit allowEmptyResults: true, testResults: "build/ci/tenants/${tenant}/junit.xml"
                                                archiveArtifacts artifacts: "build/ci/tenants/${tenant}/**", allowEmptyArchive: true
                                            }
                                        }
                                    }
                                }
                                parallel branches  // one tenant's failure stops no other
                            }
                        }
                        if (release && env.BRANCH_NAME == 'main') {
                            stage('release') {
                                // Jenkins' own approval; then dsci asks for the signed sign-offs.
                                input message: "Promote what serves in ${promoteFrom} to ${release}?", ok: 'Release'
                                withKubeconfig(kubeconfigCredentials) {
                                    if (tenants) {  // each tenant's release, by its own digests
                                        for (String name in dsciTenants(image)) {
                                            catchError(buildResult: 'FAILURE', stageResult: 'FAILURE') {  // the others still release
                                                dsciRun(image, credentials, ".venv/bin/invoke ci.deploy --env ${release} --from ${promoteFrom} --tenant ${name}")
                                            }
                                        }
                                    } else {
                                        dsciRun(image, credentials, ".venv/bin/invoke ci.deploy --env ${release} --from ${promoteFrom}")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        post {
            always {
                junit allowEmptyResults: true, testResults: 'build/ci/junit.xml'
                archiveArtifacts artifacts: 'build/ci/**', allowEmptyArchive: true, fingerprint: true
                script {
                    if (env.CHANGE_ID && reportCredentials) {  // a pull request's build: one comment on it
                        withCredentials([string(credentialsId: reportCredentials, variable: 'DSCI_REPORT_TOKEN')]) {
                            withEnv(['INVOKE_CI_REPORT_GITHUB_TOKEN_ENV=DSCI_REPORT_TOKEN',
                                     'INVOKE_CI_REPORT_AZURE_TOKEN_ENV=DSCI_REPORT_TOKEN']) {
                                catchError(buildResult: 'UNSTABLE', stageResult: 'UNSTABLE') {  // never a failed build
                                    dsciRun(image, credentials, '.venv/bin/invoke ci.report.publish')
                                }
                            }
                        }
                    }
                }
            }
            failure {
                script {
                    dsciRun(image, credentials, '.venv/bin/invoke ci.notify')
                }
            }
        }
    }
}

// The body on an agent of the label, or any agent when the label is ''.
def dsciNode(String label, Closure body) {
    if (label) {
        node(label) { body() }
    } else {
        node { body() }
    }
}

// The tenants of ci.tenants, by name.
List dsciTenants(String image) {
    return dsciOutput(image, '.venv/bin/invoke ci.tenants.list --format lines').split('\n').findAll { it }
}

// What a shell command prints, on the agent or inside the Docker image.
String dsciOutput(String image, String command) {
    String out = ''
    Closure body = { out = sh(script: command, returnStdout: true).trim() }
    if (image) {
        docker.image(image).inside { body() }
    } else {
        body()
    }
    return out
}

// The body with KUBECONFIG naming the secret file of a credential, when one is given.
def withKubeconfig(String credentials, Closure body) {
    withSecretFile(credentials, 'KUBECONFIG', body)
}

// The body with the variable naming the secret file of a credential, when one is given.
def withSecretFile(String credentials, String variable, Closure body) {
    if (credentials) {
        withCredentials([file(credentialsId: credentials, variable: variable)]) { body() }
    } else {
        body()
    }
}

// One shell command, on the agent or inside the Docker image, with the registry's credentials when given.
def dsciRun(String image, String credentials, String command) {
    Closure body = {
        if (image) {
            docker.image(image).inside { sh command }
        } else {
            sh command
        }
    }
    if (credentials) {
        withCredentials([usernamePassword(credentialsId: credentials,
                                          usernameVariable: 'DSCI_REGISTRY_USER',
                                          passwordVariable: 'DSCI_REGISTRY_PASSWORD')]) {
            body()
        }
    } else {
        body()
    }
}
