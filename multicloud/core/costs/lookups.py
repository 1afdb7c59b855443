"""Reference tables the mappings use: each provider's services to FOCUS ServiceCategory, region
codes to names, and each provider's charge types to FOCUS ChargeCategory. Values not listed map to
the documented default ("Other" for categories, the code itself for region names)."""

from __future__ import annotations

AWS_SERVICE_CATEGORY = {
    "AmazonEC2": "Compute", "AWSLambda": "Compute", "AmazonECS": "Compute", "AmazonEKS": "Compute",
    "AWSFargate": "Compute", "AmazonLightsail": "Compute", "AWSBatch": "Compute", "ElasticMapReduce": "Analytics",
    "AmazonS3": "Storage", "AmazonEFS": "Storage", "AmazonFSx": "Storage", "AWSBackup": "Storage",
    "AmazonS3GlacierDeepArchive": "Storage", "AmazonGlacier": "Storage",
    "AmazonRDS": "Databases", "AmazonDynamoDB": "Databases", "AmazonElastiCache": "Databases",
    "AmazonRedshift": "Databases", "AmazonDocDB": "Databases", "AmazonNeptune": "Databases",
    "AmazonCloudFront": "Networking", "AmazonVPC": "Networking", "AmazonRoute53": "Networking",
    "AWSELB": "Networking", "AWSDataTransfer": "Networking", "AmazonApiGateway": "Web",
    "AWSDirectConnect": "Networking", "AWSGlobalAccelerator": "Networking",
    "AmazonCloudWatch": "Management and Governance", "AWSConfig": "Management and Governance",
    "AWSCloudTrail": "Management and Governance", "AWSSystemsManager": "Management and Governance",
    "AWSCostExplorer": "Management and Governance",
    "AmazonGuardDuty": "Security", "AWSSecurityHub": "Security", "awskms": "Security", "AWSKMS": "Security",
    "AWSSecretsManager": "Security", "AWSWAF": "Security", "AWSShield": "Security", "AmazonInspector": "Security",
    "AWSIAM": "Identity", "AmazonCognito": "Identity",
    "AmazonSageMaker": "AI and Machine Learning", "AmazonBedrock": "AI and Machine Learning",
    "AmazonRekognition": "AI and Machine Learning", "AmazonComprehend": "AI and Machine Learning",
    "AmazonAthena": "Analytics", "AWSGlue": "Analytics", "AmazonKinesis": "Analytics",
    "AmazonQuickSight": "Analytics", "AmazonOpenSearchService": "Analytics", "AmazonES": "Analytics",
    "AmazonSNS": "Integration", "AmazonSQS": "Integration", "AmazonMQ": "Integration",
    "AWSEvents": "Integration", "AmazonStates": "Integration", "AWSStepFunctions": "Integration",
    "AWSCodePipeline": "Developer Tools", "AWSCodeBuild": "Developer Tools", "AmazonECR": "Developer Tools",
    "AWSCodeArtifact": "Developer Tools", "AWSIoT": "Internet of Things", "AWSDMS": "Migration",
    "AmazonWorkSpaces": "Business Applications", "AmazonConnect": "Business Applications",
    "AmazonSES": "Business Applications", "AWSSupportBusiness": "Other", "AWSSupportEnterprise": "Other",
    "AWSMarketplace": "Other", "AmazonElasticTranscoder": "Media", "AWSElementalMediaConvert": "Media",
}

AZURE_SERVICE_CATEGORY = {
    "microsoft.compute": "Compute", "microsoft.web": "Web", "microsoft.containerservice": "Compute",
    "microsoft.containerinstance": "Compute", "microsoft.batch": "Compute", "microsoft.app": "Compute",
    "microsoft.storage": "Storage", "microsoft.netapp": "Storage", "microsoft.recoveryservices": "Storage",
    "microsoft.dataprotection": "Storage",
    "microsoft.sql": "Databases", "microsoft.documentdb": "Databases", "microsoft.dbforpostgresql": "Databases",
    "microsoft.dbformysql": "Databases", "microsoft.cache": "Databases", "microsoft.synapse": "Analytics",
    "microsoft.network": "Networking", "microsoft.cdn": "Networking", "microsoft.apimanagement": "Web",
    "microsoft.insights": "Management and Governance", "microsoft.operationalinsights": "Management and Governance",
    "microsoft.automation": "Management and Governance", "microsoft.costmanagement": "Management and Governance",
    "microsoft.security": "Security", "microsoft.keyvault": "Security", "microsoft.azureactivedirectory": "Identity",
    "microsoft.aad": "Identity", "microsoft.cognitiveservices": "AI and Machine Learning",
    "microsoft.machinelearningservices": "AI and Machine Learning", "microsoft.databricks": "Analytics",
    "microsoft.datafactory": "Analytics", "microsoft.eventhub": "Analytics", "microsoft.kusto": "Analytics",
    "microsoft.servicebus": "Integration", "microsoft.logic": "Integration", "microsoft.eventgrid": "Integration",
    "microsoft.devices": "Internet of Things", "microsoft.containerregistry": "Developer Tools",
    "microsoft.devtestlab": "Developer Tools", "microsoft.media": "Media", "microsoft.migrate": "Migration",
    "microsoft.capacity": "Other", "microsoft.billingbenefits": "Other",
}

GCP_SERVICE_CATEGORY = {
    "Compute Engine": "Compute", "Kubernetes Engine": "Compute", "Cloud Run": "Compute",
    "Cloud Functions": "Compute", "App Engine": "Compute", "Cloud Storage": "Storage",
    "Filestore": "Storage", "Backup and DR Service": "Storage", "Cloud SQL": "Databases",
    "Cloud Spanner": "Databases", "Cloud Bigtable": "Databases", "Firestore": "Databases",
    "Cloud Memorystore for Redis": "Databases", "AlloyDB": "Databases", "BigQuery": "Analytics",
    "Dataflow": "Analytics", "Dataproc": "Analytics", "Cloud Pub/Sub": "Integration", "Pub/Sub": "Integration",
    "Cloud Composer": "Integration", "Networking": "Networking", "Cloud Load Balancing": "Networking",
    "Cloud CDN": "Networking", "Cloud DNS": "Networking", "Cloud NAT": "Networking",
    "Cloud Logging": "Management and Governance", "Cloud Monitoring": "Management and Governance",
    "Stackdriver Logging": "Management and Governance", "Stackdriver Monitoring": "Management and Governance",
    "Secret Manager": "Security", "Cloud Key Management Service (KMS)": "Security", "Cloud Armor": "Security",
    "Security Command Center": "Security", "Identity Platform": "Identity", "Vertex AI": "AI and Machine Learning",
    "Gemini API": "AI and Machine Learning", "Cloud Vision API": "AI and Machine Learning",
    "Cloud Build": "Developer Tools", "Artifact Registry": "Developer Tools", "Container Registry": "Developer Tools",
    "Apigee": "Web", "Cloud IoT Core": "Internet of Things", "Transcoder API": "Media",
    "Database Migration Service": "Migration", "Support": "Other", "Invoice": "Other",
}

REGION_NAMES = {
    # AWS
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)", "eu-west-2": "Europe (London)",
    "eu-central-1": "Europe (Frankfurt)", "eu-north-1": "Europe (Stockholm)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-south-1": "Asia Pacific (Mumbai)",
    "sa-east-1": "South America (Sao Paulo)", "ca-central-1": "Canada (Central)",
    # Azure
    "eastus": "East US", "eastus2": "East US 2", "westus": "West US", "westus2": "West US 2", "westus3": "West US 3",
    "centralus": "Central US", "northcentralus": "North Central US", "southcentralus": "South Central US",
    "northeurope": "North Europe", "westeurope": "West Europe", "uksouth": "UK South", "ukwest": "UK West",
    "francecentral": "France Central", "germanywestcentral": "Germany West Central", "swedencentral": "Sweden Central",
    "southeastasia": "Southeast Asia", "eastasia": "East Asia", "japaneast": "Japan East", "australiaeast": "Australia East",
    "canadacentral": "Canada Central", "brazilsouth": "Brazil South", "centralindia": "Central India",
    # Google Cloud
    "us-central1": "Iowa", "us-east1": "South Carolina", "us-east4": "Northern Virginia", "us-west1": "Oregon",
    "us-west2": "Los Angeles", "europe-west1": "Belgium", "europe-west2": "London", "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands", "europe-north1": "Finland", "asia-east1": "Taiwan", "asia-northeast1": "Tokyo",
    "asia-southeast1": "Singapore", "australia-southeast1": "Sydney", "southamerica-east1": "Sao Paulo",
}

# Azure cost details name regions by display name in some exports ("US East", "East US").
AZURE_REGION_ALIASES = {
    "useast": "eastus", "useast2": "eastus2", "uswest": "westus", "uswest2": "westus2", "uswest3": "westus3",
    "uscentral": "centralus", "usnorthcentral": "northcentralus", "ussouthcentral": "southcentralus",
    "eunorth": "northeurope", "euwest": "westeurope", "uksouth": "uksouth", "ukwest": "ukwest",
    "asiasoutheast": "southeastasia", "asiaeast": "eastasia", "japaneast": "japaneast", "australiaeast": "australiaeast",
    "intercontinental": None, "unassigned": None, "global": None, "": None,
}

AWS_CHARGE_CATEGORY = {
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage", "SavingsPlanRecurringFee": "Purchase", "SavingsPlanUpfrontFee": "Purchase",
    "RIFee": "Purchase", "Fee": "Purchase", "Tax": "Tax", "Credit": "Credit", "Refund": "Credit",
    "BundledDiscount": "Credit", "EdpDiscount": "Credit", "PrivateRateDiscount": "Credit",
    "DistributorDiscount": "Credit", "SppDiscount": "Credit",
}

AZURE_CHARGE_CATEGORY = {
    "Usage": "Usage", "UnusedReservation": "Usage", "UnusedSavingsPlan": "Usage", "Purchase": "Purchase",
    "Refund": "Purchase", "RoundingAdjustment": "Adjustment", "Tax": "Tax", "Credit": "Credit",
}

GCP_COST_TYPES = ("regular", "tax", "adjustment", "rounding_error")
